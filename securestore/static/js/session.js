/* How the page notices that the session ended while it was open: the app answers a request
   with a redirect to its login pages, and fetch and XHR follow it without saying so. */

export function landedOnLogin(url) {
  return Boolean(url) && new URL(url).pathname.startsWith("/auth/");
}
