// The signed-in user and what they may do (`GET /api/v1/me`): the console shows a screen or a
// button only when its capability is listed; the server checks every request regardless.
import { defineStore } from 'pinia'
import { api, data, setSessionToken, sessionToken, type Schemas } from '@/api/client'

export type Me = Schemas['Me']

export const useSession = defineStore('session', {
  state: () => ({ me: null as Me | null, loading: false }),
  getters: {
    signedIn: (state) => state.me !== null,
    role: (state) => state.me?.role ?? null,
  },
  actions: {
    can(capability: string): boolean {
      return this.me?.capabilities.includes(capability) ?? false
    },
    async load(): Promise<boolean> {
      if (!sessionToken()) return false
      try {
        this.me = data(await api.GET('/api/v1/me'))
        return true
      } catch {
        this.me = null
        return false
      }
    },
    async signIn(username: string, password: string) {
      const answer = data(
        await api.POST('/api/v1/auth/login', { body: { username, password } }),
      )
      setSessionToken(answer.token)
      await this.load()
    },
    async signOut() {
      try {
        await api.POST('/api/v1/auth/logout')
      } catch {
        // The session may already be gone.
      }
      setSessionToken(null)
      this.me = null
    },
    forget() {
      setSessionToken(null)
      this.me = null
    },
  },
})
