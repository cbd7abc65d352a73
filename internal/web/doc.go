// Package web serves backapp's server-rendered HTML pages: sign-in, registration,
// password reset, the dashboard, the profile page and user administration. Templates
// and static files are embedded; static files are served at checksummed URLs so
// browsers may cache them forever. Every page works without JavaScript. Pages get
// their data from the services (configs, agents, runs, restores, destinations), which
// hold the ownership rules, as the JSON API does; Protect wraps them in the session
// and CSRF middleware they rely on.
package web
