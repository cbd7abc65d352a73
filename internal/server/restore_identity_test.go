package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server/servertest"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
)

// ageBackup backs e's source up with agent A, encrypted to a new age recipient, and
// returns the completed run and the identity that opens it.
func ageBackup(t *testing.T, e *servertest.RestoreEnv) (string, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	body := with(goodConfig(e.AgentA), "name", "To a recipient", "sources", []map[string]any{{"path": e.Src}},
		"destination", map[string]any{"destinationId": e.DestID},
		"options", map[string]any{"type": "full", "compression": "zstd", "encryptionMode": "age", "recipients": []string{id.Recipient().String()}})
	r := e.Alice.JSON("POST", "/api/configs", body)
	want(t, r, http.StatusCreated)
	return backupRun(t, agentRunner(t, e.Env, e.KeyA), r.Body["id"].(string)), id
}

// restoreWithIdentity asks agent B to restore all of run into a new directory with
// identity, as c, and returns the restore's id and the directory.
func restoreWithIdentity(t *testing.T, e *servertest.RestoreEnv, c *servertest.Client, run string, id *age.X25519Identity) (string, string) {
	t.Helper()
	target := t.TempDir()
	r := c.JSON("POST", "/api/restores", map[string]any{"runId": run, "agentId": e.AgentB, "targetDir": target,
		"identity": "# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"})
	want(t, r, http.StatusCreated)
	if strings.Contains(r.Raw, "AGE-SECRET-KEY") {
		t.Errorf("the restore's answer holds the identity: %s", r.Raw)
	}
	return r.Body["id"].(string), target
}

// identityStored reads restore id's identity columns directly on PostgreSQL, or
// asks the store on SQLite (with a clock at the epoch, so an expiry cannot hide it).
func identityStored(t *testing.T, st store.Store, id string) bool {
	t.Helper()
	ctx := context.Background()
	if pg, ok := st.(*postgres.Store); ok {
		var stored bool
		err := pg.Pool().QueryRow(ctx, `SELECT identity_sealed IS NOT NULL OR identity_until IS NOT NULL FROM restores WHERE id = $1`, id).Scan(&stored)
		if err != nil {
			t.Fatal(err)
		}
		return stored
	}
	_, err := st.RestoreIdentity(ctx, id, time.Time{})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// everything is every file of e's source, as the backups hold it.
func everything(e *servertest.RestoreEnv) []string {
	var files []string
	for f := range e.Want {
		files = append(files, f)
	}
	slices.Sort(files)
	return files
}

// TestRestoreIdentityAfterLostHandOut: the answer of the heartbeat that hands agent
// B's real daemon a restore of a backup encrypted to an age recipient is lost (a
// proxy in front of the server drops it: a network failure, or a 503 during a
// database outage). The agent's next heartbeat is handed the restore again, with
// the identity given for it, and the files are restored byte for byte; afterwards
// the database no longer holds the identity.
func TestRestoreIdentityAfterLostHandOut(t *testing.T) {
	servertest.Dialects(t, func(t *testing.T, db string) {
		e := startRestoreEnv(t, db)
		run, id := ageBackup(t, e)

		up, err := url.Parse(e.Srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		var lost atomic.Int32
		rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(up)
			r.Out.Header.Del("Accept-Encoding") // the answer is read as JSON
		}}
		rp.ModifyResponse = func(resp *http.Response) error {
			if resp.Request.URL.Path != agentproto.PathHeartbeat {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(`"type":"restore"`)) && lost.Add(1) == 1 {
				return errors.New("the answer that hands the restore out is lost")
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			return nil
		}
		rp.ErrorLog = log.New(io.Discard, "", 0)
		proxy := httptest.NewServer(rp)
		t.Cleanup(proxy.Close)
		servertest.RunDaemonAt(t, proxy.URL, e.KeyB)

		rid, target := restoreWithIdentity(t, e, e.Alice, run, id)
		e.WaitRestore(t, e.Alice, rid)
		if n := lost.Load(); n < 2 {
			t.Fatalf("%d heartbeat answers handed the restore out; want the lost one and another", n)
		}
		e.CheckTree(t, target, everything(e)...)
		if identityStored(t, e.App.Store, rid) {
			t.Error("the identity is still stored after the restore completed")
		}
		if s := e.Alice.Page("/restores/"+rid, http.StatusOK) + e.Alice.JSON("GET", "/api/restores/"+rid, nil).Raw; strings.Contains(s, "AGE-SECRET-KEY") {
			t.Error("the restore's page or API answer holds the identity")
		}
	})
}

// TestRestoreIdentityOnOtherReplica: two replicas on one PostgreSQL (sharing the
// master key, as they must). The restore with an age identity is asked for on
// replica A; agent B's real daemon heartbeats to replica B only, which hands it the
// restore with the identity: the files are restored byte for byte, and the
// identity is then gone from the database.
func TestRestoreIdentityOnOtherReplica(t *testing.T) {
	db := pgtest.New(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	shareKey := func(c *config.Config) { c.MasterKey = base64.StdEncoding.EncodeToString(key) }
	e := startRestoreEnv(t, db, shareKey)
	b := servertest.Start(t, db, shareKey)
	run, id := ageBackup(t, e)

	rid, target := restoreWithIdentity(t, e, e.Alice, run, id)
	if !identityStored(t, e.App.Store, rid) {
		t.Fatal("the identity is not stored with the queued restore")
	}
	servertest.RunDaemonAt(t, b.Srv.URL, e.KeyB)
	e.WaitRestore(t, e.Alice, rid)
	e.CheckTree(t, target, everything(e)...)
	if identityStored(t, b.App.Store, rid) {
		t.Error("the identity is still stored after the restore completed")
	}
}
