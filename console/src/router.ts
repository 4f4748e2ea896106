import { createRouter, createWebHistory } from 'vue-router'
import { homeFor, loadMe, me, screensFor, type Screen } from './session'

const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/', redirect: () => homeFor(me.value?.role) },
    { path: '/signin', component: () => import('./views/SignIn.vue'), meta: { public: true } },
    { path: '/member', component: () => import('./views/MemberNotice.vue') },
    { path: '/map', component: () => import('./views/MapView.vue'), meta: { screen: 'map' } },
    { path: '/board', component: () => import('./views/BoardView.vue'), meta: { screen: 'board' } },
    { path: '/events', component: () => import('./views/QueueView.vue'), meta: { screen: 'events' } },
    { path: '/events/:id(\\d+)', component: () => import('./views/EventPage.vue'), meta: { screen: 'events' } },
    {
      path: '/evaluation',
      component: () => import('./views/EvaluationView.vue'),
      meta: { screen: 'evaluation' },
    },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  let who = me.value
  if (!who) {
    try {
      who = await loadMe()
    } catch {
      who = null
    }
  }
  if (!who) {
    const deep = to.fullPath !== '/' && to.redirectedFrom?.fullPath !== '/'
    return { path: '/signin', query: deep ? { next: to.fullPath } : {} }
  }
  if (who.role === 'member' && to.path !== '/member') return '/member'
  const screen = to.meta.screen as Screen | undefined
  if (screen && !screensFor(who.role).includes(screen)) return homeFor(who.role)
  return true
})

export default router
