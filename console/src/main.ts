import { createApp } from 'vue'
import App from './App.vue'
import router from './router'
import { setOnExpired } from './api/http'
import { expiredNotice, me } from './session'
import { dropStream, stopLive } from './live'
import { locale } from './i18n'
import './styles.css'

document.documentElement.lang = locale.value

setOnExpired(() => {
  if (!me.value) return
  me.value = null
  stopLive()
  expiredNotice.value = true
  void router.push({ path: '/signin', query: { next: router.currentRoute.value.fullPath } })
})

// Fault injection for the browser tests and the bench: drop the change stream as a network
// fault would (the console then shows "reconnecting" and resumes with Last-Event-ID).
;(window as any).__wangge = Object.freeze({ dropStream })

createApp(App).use(router).mount('#app')
