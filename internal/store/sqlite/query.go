package sqlite

import "context"

// queryAll runs a read query and scans every row with scan; op names the operation in
// errors.
func queryAll[T any](ctx context.Context, s *Store, op, query string, scan func(scanner, *T) error, args ...any) ([]T, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}
