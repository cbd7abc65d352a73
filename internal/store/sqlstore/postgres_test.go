package sqlstore

import (
	"context"
	"sync"
	"testing"

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
