package api

import "github.com/backapp/backapp/internal/apperr"

var (
	errSignIn = apperr.New(apperr.Unauthorized, "sign in first: POST /api/auth/login, then send the session cookie")
	notFound  = apperr.New(apperr.NotFound, "no such API endpoint")
)
