// Every screen of the console, each its own chunk, each behind the capability it needs.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useSession } from '@/stores/session'

declare module 'vue-router' {
  interface RouteMeta {
    /** Menu title (Chinese). */
    title?: string
    /** The capability of `GET /api/v1/me` the screen needs. */
    needs?: string
    /** Menu group. */
    group?: string
    /** Shown without the menu and header (the hall display). */
    bare?: boolean
    /** Not in the menu (detail pages). */
    hidden?: boolean
  }
}

export const screens: RouteRecordRaw[] = [
  { path: '/', name: 'dashboard', component: () => import('@/views/dashboard/Dashboard.vue'), meta: { title: '工作台', group: '工作台' } },
  { path: '/orders', name: 'orders', component: () => import('@/views/orders/Inbox.vue'), meta: { title: '差评工单', needs: 'read', group: '闭环处置' } },
  { path: '/orders/:id', name: 'order', component: () => import('@/views/orders/OrderDetail.vue'), meta: { title: '工单详情', needs: 'read', hidden: true } },
  { path: '/calls', name: 'calls', component: () => import('@/views/calls/CallDesk.vue'), meta: { title: '回访工作台', needs: 'calls.read', group: '闭环处置' } },
  { path: '/appeals', name: 'appeals', component: () => import('@/views/reviews/Appeals.vue'), meta: { title: '申诉复核', needs: 'appeals.decide', group: '闭环处置' } },
  { path: '/moderation', name: 'moderation', component: () => import('@/views/reviews/Moderation.vue'), meta: { title: '评论审核', needs: 'moderate', group: '闭环处置' } },
  { path: '/problems', name: 'problems', component: () => import('@/views/problems/Problems.vue'), meta: { title: '系统性问题', needs: 'problems.read', group: '闭环处置' } },
  { path: '/analysis', name: 'analysis', component: () => import('@/views/analysis/Analysis.vue'), meta: { title: '统计分析', needs: 'read', group: '统计考核' } },
  { path: '/analysis/ratings', name: 'ratings', component: () => import('@/views/analysis/Ratings.vue'), meta: { title: '评价明细', needs: 'read', hidden: true } },
  { path: '/ranking', name: 'ranking', component: () => import('@/views/ranking/Ranking.vue'), meta: { title: '考核排名', needs: 'read', group: '统计考核' } },
  { path: '/reports', name: 'reports', component: () => import('@/views/reports/Reports.vue'), meta: { title: '报表', needs: 'reports', group: '统计考核' } },
  { path: '/rules', name: 'rules', component: () => import('@/views/rules/Rules.vue'), meta: { title: '规则', needs: 'rules.read', group: '规则与接入' } },
  { path: '/adapters', name: 'adapters', component: () => import('@/views/adapters/Adapters.vue'), meta: { title: '适配器与设备', needs: 'devices', group: '规则与接入' } },
  { path: '/posters', name: 'posters', component: () => import('@/views/posters/Posters.vue'), meta: { title: '窗口二维码', needs: 'admin', group: '规则与接入' } },
  { path: '/admin', name: 'admin', component: () => import('@/views/admin/Admin.vue'), meta: { title: '系统管理', needs: 'admin', group: '系统管理' } },
  { path: '/audit', name: 'audit', component: () => import('@/views/admin/Audit.vue'), meta: { title: '审计日志', needs: 'audit', group: '系统管理' } },
  { path: '/uplink', name: 'uplink', component: () => import('@/views/admin/Uplink.vue'), meta: { title: '省级上报', needs: 'uplink.read', group: '系统管理' } },
  { path: '/privacy', name: 'privacy', component: () => import('@/views/admin/Privacy.vue'), meta: { title: '个人信息保护', needs: 'audit', group: '系统管理' } },
]

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/views/Login.vue'), meta: { title: '登录', bare: true } },
  { path: '/hall', name: 'hall', component: () => import('@/views/hall/HallScreen.vue'), meta: { title: '大厅大屏', needs: 'hall_screen', bare: true } },
  { path: '/', component: () => import('@/views/Shell.vue'), children: screens },
  { path: '/:rest(.*)*', name: 'missing', component: () => import('@/views/Missing.vue'), meta: { title: '页面不存在', bare: true } },
]

export const router = createRouter({ history: createWebHistory('/console/'), routes })

router.beforeEach(async (to) => {
  const session = useSession()
  if (to.name === 'login') return true
  if (!session.me && !(await session.load())) {
    return { name: 'login', query: { next: to.fullPath } }
  }
  if (to.meta.needs && !session.can(to.meta.needs)) return { name: 'dashboard' }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 好差评工作台` : '好差评工作台'
})
