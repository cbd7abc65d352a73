// Package web serves backapp's server-rendered HTML pages: sign-in, registration,
// password reset, the dashboard, the profile page and user administration. Templates
// and static files are embedded; static files are served at checksummed URLs so
// browsers may cache them forever. Every page works without JavaScript.
package web
