package sqlstore

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/storetest"
)

func openPostgres(t *testing.T, url string) *Store {
	t.Helper()
	s, _, err := OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatalf("OpenPostgres = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestPostgresSchema(t *testing.T) {
	s := openPostgres(t, pgtest.New(t))
	storetest.RunSchema(t, s, rawSQL(s))
}

func TestPostgresRestoreIdentityRows(t *testing.T) {
	s := openPostgres(t, pgtest.New(t))
	storetest.RunRestoreIdentity(t, s, rawSQL(s))
}

// TestPostgresReplicasMigrate opens one fresh database from several "replicas" at once:
// the migration lock lets each finish with the schema complete.
func TestPostgresReplicasMigrate(t *testing.T) {
	ctx := context.Background()
	url := pgtest.New(t)
	const replicas = 4
	stores := make([]*Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], _, errs[i] = OpenPostgres(ctx, url) })
	}
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("Open replica %d: %v", i, errs[i])
			continue
		}
		cur, latest, err := stores[i].Version(ctx)
		if err != nil || cur != latest || cur < 1 {
			t.Errorf("replica %d: Version() = %d, %d, %v; want equal, >= 1, nil", i, cur, latest, err)
		}
		if err := stores[i].Migrate(ctx); err != nil {
			t.Errorf("replica %d: Migrate on an up-to-date database = %v", i, err)
		}
		_ = stores[i].Close()
	}
}

// TestPostgresMoreCallersThanConnections has many goroutines query through a pool of
// two connections: each must get its turn (no layer may wait in pgx's pool for a
// connection another layer holds idle).
func TestPostgresMoreCallersThanConnections(t *testing.T) {
	u, err := url.Parse(pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "2")
	u.RawQuery = q.Encode()
	s := openPostgres(t, u.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			for range 20 {
				if _, err := s.ListUsers(ctx); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
}
