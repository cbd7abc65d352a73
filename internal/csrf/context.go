package csrf

import (
	"context"
	"net/http"
)

func contextWithToken(r *http.Request, t string) context.Context {
	return context.WithValue(r.Context(), tokenKey{}, t)
}
