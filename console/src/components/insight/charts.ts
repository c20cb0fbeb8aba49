// ECharts options of the insight screens, built from API views (pure functions).
import { CHANNELS, LEVELS, label } from '@/utils/format'
import { rateNumber } from './metrics'

export interface DayPoint {
  day: string
  ratings: number
  bad: number
  goodRate: number | null
  activeRate: number | null
}

export const LEVEL_ORDER = ['very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied']
export const LEVEL_COLORS = ['#2e7d32', '#66bb6a', '#9ccc65', '#ef6c00', '#c62828']

interface DayLike {
  day: string
  metrics: { ratings: number; bad: number; rates: Record<string, { value?: string | null }> }
}

export function dayPoints(days: DayLike[]): DayPoint[] {
  return days.map((d) => ({
    day: d.day,
    ratings: d.metrics.ratings,
    bad: d.metrics.bad,
    goodRate: rateNumber(d.metrics.rates.good_rate?.value),
    activeRate: rateNumber(d.metrics.rates.active_rate?.value),
  }))
}

const pctAxis = (value: number) => `${(value * 100).toFixed(0)}%`

/** Ratings and 差评 as bars, 好评率 and 主动评价率 as lines on a second axis. */
export function trendOption(points: DayPoint[], text: { ratings: string; bad: string; goodRate: string; activeRate: string }, dark = false) {
  const fg = dark ? '#cbd5e1' : '#4b5563'
  const size = dark ? 18 : 12
  const rates = points.flatMap((p) => [p.goodRate, p.activeRate]).filter((v): v is number => v !== null)
  const low = rates.length ? Math.max(0, Math.floor(Math.min(...rates) * 20) / 20 - 0.05) : 0
  const high = rates.length ? Math.max(1, Math.ceil(Math.max(...rates) * 20) / 20) : 1
  return {
    tooltip: {
      trigger: 'axis',
      valueFormatter: (v: number) => (typeof v === 'number' && v <= 1 && !Number.isInteger(v) ? `${(v * 100).toFixed(1)}%` : String(v)),
    },
    legend: { top: 0, textStyle: { color: fg, fontSize: size }, itemWidth: dark ? 30 : 25, itemHeight: dark ? 18 : 14 },
    grid: { left: dark ? 64 : 48, right: dark ? 64 : 48, top: dark ? 48 : 36, bottom: dark ? 36 : 28 },
    xAxis: { type: 'category', data: points.map((p) => p.day.slice(5)), axisLabel: { color: fg, fontSize: size } },
    yAxis: [
      { type: 'value', axisLabel: { color: fg, fontSize: size }, splitLine: { lineStyle: { color: dark ? '#1e3a5f' : '#eef0f3' } } },
      { type: 'value', min: low, max: high, axisLabel: { color: fg, fontSize: size, formatter: pctAxis }, splitLine: { show: false } },
    ],
    series: [
      { name: text.ratings, type: 'bar', data: points.map((p) => p.ratings), itemStyle: { color: dark ? '#3b82f6' : '#93c5fd' } },
      { name: text.bad, type: 'bar', data: points.map((p) => p.bad), itemStyle: { color: '#e57373' } },
      { name: text.goodRate, type: 'line', yAxisIndex: 1, connectNulls: true, data: points.map((p) => p.goodRate), itemStyle: { color: '#2e7d32' } },
      { name: text.activeRate, type: 'line', yAxisIndex: 1, connectNulls: true, data: points.map((p) => p.activeRate), itemStyle: { color: '#f59e0b' } },
    ],
  }
}

/** Ratings by level as bars (very satisfied … very dissatisfied), each bar clickable. */
export function levelsOption(byLevel: Record<string, number>, dark = false, big = false) {
  const fg = dark ? '#e2e8f0' : '#4b5563'
  return {
    tooltip: { trigger: 'axis' },
    grid: { left: big ? 150 : 90, right: big ? 90 : 40, top: 10, bottom: 10 },
    xAxis: { type: 'value', show: false },
    yAxis: {
      type: 'category',
      inverse: true,
      data: LEVEL_ORDER.map((l) => label(LEVELS, l)),
      axisLabel: { color: fg, fontSize: big ? 26 : 12 },
      axisLine: { show: false },
      axisTick: { show: false },
    },
    series: [
      {
        type: 'bar',
        data: LEVEL_ORDER.map((l, i) => ({ value: byLevel[l] ?? 0, name: l, itemStyle: { color: LEVEL_COLORS[i] } })),
        label: { show: true, position: 'right', color: fg, fontSize: big ? 26 : 12 },
        barMaxWidth: big ? 40 : 22,
      },
    ],
  }
}

/** The channel mix as a ring. */
export function channelsOption(byChannel: Record<string, number>) {
  const data = Object.entries(byChannel)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => ({ name: label(CHANNELS, code), value: n, code }))
  const total = data.reduce((s, d) => s + d.value, 0)
  const byName = new Map(data.map((d) => [d.name, d.value]))
  return {
    tooltip: { trigger: 'item', formatter: '{b}：{c}（{d}%）' },
    legend: {
      type: 'scroll',
      orient: 'vertical',
      right: 8,
      top: 'middle',
      formatter: (name: string) => {
        const n = byName.get(name) ?? 0
        return `${name}  ${n.toLocaleString('zh-CN')}（${total ? ((n / total) * 100).toFixed(1) : '0.0'}%）`
      },
    },
    series: [
      {
        type: 'pie',
        radius: ['42%', '70%'],
        center: ['28%', '50%'],
        data,
        label: { show: false },
      },
    ],
  }
}

export interface ChildSpot {
  unit: string
  name: string
  bad: number
  badRate: number | null
  ratings: number
}

/** 差评 hot spots: area = 差评, colour = 差评率. */
export function hotSpotsOption(children: ChildSpot[], text: { bad: string; badRate: string }) {
  const data = children
    .filter((c) => c.bad > 0)
    .map((c) => ({ name: c.name, value: [c.bad, c.badRate ?? 0], unit: c.unit }))
  const rates = data.map((d) => d.value[1])
  return {
    tooltip: {
      formatter: (p: { name: string; value: [number, number] }) =>
        `${p.name}<br/>${text.bad}：${p.value[0]}<br/>${text.badRate}：${(p.value[1] * 100).toFixed(2)}%`,
    },
    visualMap: {
      show: false,
      dimension: 1,
      min: rates.length ? Math.min(...rates) : 0,
      max: rates.length ? Math.max(...rates) : 1,
      inRange: { color: ['#fde2e1', '#f28b82', '#c62828'] },
    },
    series: [
      {
        type: 'treemap',
        data,
        roam: false,
        nodeClick: false,
        breadcrumb: { show: false },
        width: '100%',
        height: '100%',
        label: { show: true, formatter: (p: { name: string; value: [number, number] }) => `${p.name}\n${p.value[0]}`, color: '#1f2937' },
        itemStyle: { borderColor: '#fff', borderWidth: 2, gapWidth: 2 },
      },
    ],
  }
}
