// Package storetest is the one test suite that every store.Store implementation runs,
// so SQLite and PostgreSQL behave the same to the code above them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/store"
)

// t0 is the suite's clock origin; microsecond-exact, as stored times are.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Run runs every test against stores made by open. open is called once per subtest,
// from parallel subtests, and must return an empty, migrated store of its own that
// it closes at the test's cleanup.
// test is one subtest of the suite; each domain lists its own in its file.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

var accountTests = []test{
	{"Basics", testBasics},
	{"Users", testUsers},
	{"UserEmailConflict", testUserEmailConflict},
	{"UserNotFound", testUserNotFound},
	{"FirstAdmin", testFirstAdmin},
	{"FirstAdminRace", testFirstAdminRace},
	{"Sessions", testSessions},
	{"SessionsExpired", testSessionsExpired},
	{"ResetTokens", testResetTokens},
	{"ResetTokenRace", testResetTokenRace},
	{"ResetTokensIssuedAtOnce", testResetTokensIssuedAtOnce},
	{"Audit", testAudit},
	{"Settings", testSettings},
	{"DeleteUserCascades", testDeleteUserCascades},
	{"TimePrecision", testTimePrecision},
}

func Run(t *testing.T, open func(t *testing.T) store.Store) {
	var tests []test
	tests = append(tests, accountTests...)
	tests = append(tests, destinationTests...)
	tests = append(tests, agentTests...)
	tests = append(tests, restoreTests...)
	tests = append(tests, estimateTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // creating a PostgreSQL database is slow; overlap them
			tc.fn(t, open(t))
		})
	}
}

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// mkUser creates a user named after email, created at `at`.
func mkUser(t *testing.T, s store.Store, email string, at time.Time, firstIsAdmin bool) store.User {
	t.Helper()
	u := store.User{
		ID: newID(t), Email: email, Name: "Name of " + email, PasswordHash: "hash-" + email,
		CreatedAt: at, UpdatedAt: at,
	}
	if err := s.CreateUser(context.Background(), &u, firstIsAdmin); err != nil {
		t.Fatalf("CreateUser(%s) = %v", email, err)
	}
	return u
}

func mustGetUser(t *testing.T, s store.Store, id string) store.User {
	t.Helper()
	u, err := s.GetUser(context.Background(), id)
	if err != nil {
		t.Fatalf("GetUser(%s) = %v", id, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testBasics(t *testing.T, s store.Store) {
	ctx := context.Background()
	check(t, "Ping", s.Ping(ctx))
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect() = %q, want sqlite or postgres", d)
	}
	n, err := s.CountUsers(ctx)
	check(t, "CountUsers", err)
	equal(t, "CountUsers on a new store", n, 0)
	users, err := s.ListUsers(ctx)
	check(t, "ListUsers", err)
	equal(t, "len(ListUsers) on a new store", len(users), 0)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "Bob@Example.COM", t0.Add(time.Second), true)

	equal(t, "alice's role", alice.Role, store.RoleAdmin)
	equal(t, "bob's role", bob.Role, store.RoleUser)
	equal(t, "bob's email as returned by CreateUser", bob.Email, "bob@example.com")
	equal(t, "GetUser(alice)", mustGetUser(t, s, alice.ID), alice)
	equal(t, "GetUser(bob)", mustGetUser(t, s, bob.ID), bob)

	got, err := s.GetUserByEmail(ctx, "BOB@example.com")
	check(t, "GetUserByEmail", err)
	equal(t, "GetUserByEmail(BOB@example.com)", got, bob)

	users, err := s.ListUsers(ctx)
	check(t, "ListUsers", err)
	equal(t, "ListUsers", users, []store.User{alice, bob})

	counts := func(wantUsers, wantAdmins int) {
		t.Helper()
		n, err := s.CountUsers(ctx)
		check(t, "CountUsers", err)
		equal(t, "CountUsers", n, wantUsers)
		n, err = s.CountAdmins(ctx)
		check(t, "CountAdmins", err)
		equal(t, "CountAdmins", n, wantAdmins)
	}
	counts(2, 1)

	t1 := t0.Add(time.Hour)
	check(t, "UpdateUserProfile", s.UpdateUserProfile(ctx, bob.ID, "Robert", "Robert@Example.com", t1))
	want := bob
	want.Name, want.Email, want.UpdatedAt = "Robert", "robert@example.com", t1
	equal(t, "after UpdateUserProfile", mustGetUser(t, s, bob.ID), want)

	t2 := t1.Add(time.Minute)
	check(t, "SetUserPassword", s.SetUserPassword(ctx, bob.ID, "new-hash", t2))
	want.PasswordHash, want.UpdatedAt = "new-hash", t2
	equal(t, "after SetUserPassword", mustGetUser(t, s, bob.ID), want)

	t3 := t2.Add(time.Minute)
	check(t, "SetUserRole", s.SetUserRole(ctx, bob.ID, store.RoleAdmin, t3))
	want.Role, want.UpdatedAt = store.RoleAdmin, t3
	equal(t, "after SetUserRole", mustGetUser(t, s, bob.ID), want)
	counts(2, 2)

	if err := s.SetUserRole(ctx, bob.ID, "root", t3.Add(time.Minute)); err == nil {
		t.Errorf("SetUserRole(root) = nil, want an error")
	}
	equal(t, "after SetUserRole(root)", mustGetUser(t, s, bob.ID), want)

	t4 := t3.Add(time.Minute)
	check(t, "SetUserDisabled", s.SetUserDisabled(ctx, bob.ID, true, t4))
	want.Disabled, want.UpdatedAt = true, t4
	equal(t, "after SetUserDisabled(true)", mustGetUser(t, s, bob.ID), want)
	counts(2, 1) // disabled admins do not count

	check(t, "SetUserDisabled", s.SetUserDisabled(ctx, bob.ID, false, t4))
	want.Disabled = false
	equal(t, "after SetUserDisabled(false)", mustGetUser(t, s, bob.ID), want)
	counts(2, 2)

	check(t, "DeleteUser", s.DeleteUser(ctx, bob.ID))
	_, err = s.GetUser(ctx, bob.ID)
	wantErr(t, "GetUser after DeleteUser", err, store.ErrNotFound)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, bob.ID), store.ErrNotFound)
	counts(1, 1)
	equal(t, "alice after bob's changes", mustGetUser(t, s, alice.ID), alice)
}

func testUserEmailConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	carol := mkUser(t, s, "Carol@Example.com", t0, false)
	dave := mkUser(t, s, "dave@example.com", t0, false)

	dup := store.User{ID: newID(t), Email: "carol@EXAMPLE.com", Name: "Other", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "CreateUser with carol's e-mail in other case", s.CreateUser(ctx, &dup, true), store.ErrConflict)
	equal(t, "role of the rejected user is not changed", dup.Role, "")

	sameID := store.User{ID: carol.ID, Email: "erin@example.com", Name: "Erin", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "CreateUser with carol's id", s.CreateUser(ctx, &sameID, false), store.ErrConflict)

	wantErr(t, "UpdateUserProfile to carol's e-mail",
		s.UpdateUserProfile(ctx, dave.ID, "Dave", "CAROL@example.com", t0.Add(time.Hour)), store.ErrConflict)
	equal(t, "dave after the rejected update", mustGetUser(t, s, dave.ID), dave)

	// Changing only the case of one's own e-mail is not a conflict.
	check(t, "UpdateUserProfile to own e-mail", s.UpdateUserProfile(ctx, dave.ID, "Dave", "DAVE@example.com", t0))

	n, err := s.CountUsers(ctx)
	check(t, "CountUsers", err)
	equal(t, "CountUsers", n, 2)
}

func testUserNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	mkUser(t, s, "someone@example.com", t0, true)
	for _, id := range []string{newID(t), "not-a-uuid", ""} {
		calls := []struct {
			name string
			call func() error
		}{
			{"GetUser", func() error { _, err := s.GetUser(ctx, id); return err }},
			{"UpdateUserProfile", func() error { return s.UpdateUserProfile(ctx, id, "n", "new@example.com", t0) }},
			{"SetUserPassword", func() error { return s.SetUserPassword(ctx, id, "h", t0) }},
			{"SetUserRole", func() error { return s.SetUserRole(ctx, id, store.RoleUser, t0) }},
			{"SetUserDisabled", func() error { return s.SetUserDisabled(ctx, id, true, t0) }},
			{"DeleteUser", func() error { return s.DeleteUser(ctx, id) }},
		}
		for _, c := range calls {
			wantErr(t, fmt.Sprintf("%s(%q)", c.name, id), c.call(), store.ErrNotFound)
		}
	}
	_, err := s.GetUserByEmail(ctx, "nobody@example.com")
	wantErr(t, "GetUserByEmail(nobody)", err, store.ErrNotFound)
	check(t, "DeleteUserSessions of an unknown user", s.DeleteUserSessions(ctx, newID(t), ""))
}

func testFirstAdmin(t *testing.T, s store.Store) {
	ctx := context.Background()
	steps := []struct {
		email        string
		role         string // requested
		firstIsAdmin bool
		want         string
	}{
		{"first-not-promoted@example.com", "", false, store.RoleUser},
		{"second@example.com", "", true, store.RoleUser}, // not the first user any more
		{"operator-made-admin@example.com", store.RoleAdmin, false, store.RoleAdmin},
		{"explicit-user@example.com", store.RoleUser, true, store.RoleUser},
	}
	for _, st := range steps {
		u := store.User{ID: newID(t), Email: st.email, Name: "n", PasswordHash: "h", Role: st.role, CreatedAt: t0, UpdatedAt: t0}
		check(t, "CreateUser "+st.email, s.CreateUser(ctx, &u, st.firstIsAdmin))
		equal(t, "role returned for "+st.email, u.Role, st.want)
		equal(t, "role stored for "+st.email, mustGetUser(t, s, u.ID).Role, st.want)
	}

	bad := store.User{ID: newID(t), Email: "bad-role@example.com", Name: "n", PasswordHash: "h", Role: "root", CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateUser(ctx, &bad, false); err == nil {
		t.Errorf("CreateUser with role root = nil, want an error")
	}
}

// testFirstAdminRace registers several users at once on an empty table, many times:
// exactly one may become admin each time.
func testFirstAdminRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const rounds, racers = 10, 8
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		roles := make([]string, racers)
		ids := make([]string, racers)
		errs := make([]error, racers)
		for i := range racers {
			u := store.User{ID: newID(t), Email: fmt.Sprintf("racer%d-%d@example.com", round, i),
				Name: "r", PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0}
			wg.Go(func() {
				<-start
				errs[i] = s.CreateUser(ctx, &u, true)
				roles[i], ids[i] = u.Role, u.ID
			})
		}
		close(start)
		wg.Wait()

		admins := 0
		for i := range racers {
			check(t, fmt.Sprintf("round %d: CreateUser racer %d", round, i), errs[i])
			if roles[i] == store.RoleAdmin {
				admins++
			}
		}
		equal(t, fmt.Sprintf("round %d: racers told they are admin", round), admins, 1)
		n, err := s.CountAdmins(ctx)
		check(t, "CountAdmins", err)
		equal(t, fmt.Sprintf("round %d: CountAdmins", round), n, 1)
		n, err = s.CountUsers(ctx)
		check(t, "CountUsers", err)
		equal(t, fmt.Sprintf("round %d: CountUsers", round), n, racers)
		if t.Failed() {
			return
		}
		for _, id := range ids {
			check(t, "DeleteUser", s.DeleteUser(ctx, id))
		}
	}
}

func mkSession(userID, hash string, lastSeen, expires time.Time) store.Session {
	return store.Session{
		TokenHash: hash, UserID: userID, CSRFToken: "csrf-" + hash,
		CreatedAt: t0, LastSeenAt: lastSeen, ExpiresAt: expires,
		IP: "192.0.2.7", UserAgent: "storetest/1.0",
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "sess@example.com", t0, true)
	other := mkUser(t, s, "other@example.com", t0, true)
	h1 := mkSession(u.ID, "hash-1", t0, t0.Add(24*time.Hour))
	check(t, "CreateSession", s.CreateSession(ctx, h1))

	getSession := func(hash string) (store.Session, store.User) {
		t.Helper()
		sess, su, err := s.GetSession(ctx, hash)
		check(t, "GetSession "+hash, err)
		return sess, su
	}
	gotS, gotU := getSession("hash-1")
	equal(t, "GetSession session", gotS, h1)
	equal(t, "GetSession user", gotU, u)

	wantErr(t, "CreateSession with an existing hash", s.CreateSession(ctx, h1), store.ErrConflict)
	if err := s.CreateSession(ctx, mkSession(newID(t), "hash-orphan", t0, t0.Add(time.Hour))); err == nil {
		t.Errorf("CreateSession for an unknown user = nil, want an error")
	}

	seen := t0.Add(90 * time.Minute)
	check(t, "TouchSession", s.TouchSession(ctx, "hash-1", seen))
	gotS, _ = getSession("hash-1")
	equal(t, "LastSeenAt after TouchSession", gotS.LastSeenAt, seen)

	// A disabled user's session is still returned, showing Disabled, so the caller
	// can refuse it.
	check(t, "SetUserDisabled", s.SetUserDisabled(ctx, u.ID, true, seen))
	_, gotU = getSession("hash-1")
	equal(t, "GetSession user.Disabled", gotU.Disabled, true)

	for _, h := range []string{"hash-2", "hash-3"} {
		check(t, "CreateSession "+h, s.CreateSession(ctx, mkSession(u.ID, h, t0, t0.Add(time.Hour))))
	}
	check(t, "CreateSession other", s.CreateSession(ctx, mkSession(other.ID, "hash-other", t0, t0.Add(time.Hour))))

	check(t, "DeleteUserSessions keeping hash-2", s.DeleteUserSessions(ctx, u.ID, "hash-2"))
	present := func(hash string, want bool) {
		t.Helper()
		_, _, err := s.GetSession(ctx, hash)
		switch {
		case want && err != nil:
			t.Errorf("GetSession(%s) = %v, want the session", hash, err)
		case !want:
			wantErr(t, "GetSession("+hash+")", err, store.ErrNotFound)
		}
	}
	present("hash-1", false)
	present("hash-2", true)
	present("hash-3", false)
	present("hash-other", true)

	check(t, "DeleteUserSessions keeping none", s.DeleteUserSessions(ctx, u.ID, ""))
	present("hash-2", false)
	present("hash-other", true)

	check(t, "DeleteSession", s.DeleteSession(ctx, "hash-other"))
	present("hash-other", false)
	wantErr(t, "DeleteSession twice", s.DeleteSession(ctx, "hash-other"), store.ErrNotFound)
	wantErr(t, "TouchSession of a deleted session", s.TouchSession(ctx, "hash-other", seen), store.ErrNotFound)
}

func testSessionsExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "exp@example.com", t0, true)
	now := t0.Add(10 * time.Hour)
	idleBefore := now.Add(-2 * time.Hour)
	cases := []struct {
		hash             string
		lastSeen, expiry time.Time
		deleted          bool
	}{
		{"fresh", now.Add(-time.Hour), now.Add(time.Hour), false},
		{"expires-in-1us", now, now.Add(time.Microsecond), false},
		{"expires-now", now, now, true},
		{"expired-1us-ago", now, now.Add(-time.Microsecond), true},
		{"idle-1us-too-long", idleBefore.Add(-time.Microsecond), now.Add(time.Hour), true},
		{"idle-exactly-the-limit", idleBefore, now.Add(time.Hour), false},
	}
	wantDeleted := int64(0)
	for _, c := range cases {
		check(t, "CreateSession "+c.hash, s.CreateSession(ctx, mkSession(u.ID, c.hash, c.lastSeen, c.expiry)))
		if c.deleted {
			wantDeleted++
		}
	}
	n, err := s.DeleteExpiredSessions(ctx, now, idleBefore)
	check(t, "DeleteExpiredSessions", err)
	equal(t, "DeleteExpiredSessions count", n, wantDeleted)
	for _, c := range cases {
		_, _, err := s.GetSession(ctx, c.hash)
		if c.deleted {
			wantErr(t, "GetSession("+c.hash+")", err, store.ErrNotFound)
		} else if err != nil {
			t.Errorf("GetSession(%s) = %v, want it kept", c.hash, err)
		}
	}
	n, err = s.DeleteExpiredSessions(ctx, now, idleBefore)
	check(t, "DeleteExpiredSessions again", err)
	equal(t, "DeleteExpiredSessions count the second time", n, int64(0))
}

func testResetTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "reset@example.com", t0, true)
	other := mkUser(t, s, "other@example.com", t0, true)
	expires := t0.Add(time.Hour)
	create := func(hash string, user store.User) error {
		return s.CreateResetToken(ctx, store.ResetToken{TokenHash: hash, UserID: user.ID, CreatedAt: t0, ExpiresAt: expires})
	}
	check(t, "CreateResetToken o1 of another user", create("o1", other))
	for _, h := range []string{"r0", "r1", "r2"} {
		check(t, "CreateResetToken "+h, create(h, u))
	}
	wantErr(t, "CreateResetToken with an existing hash", create("r2", u), store.ErrConflict)

	steps := []struct {
		what    string
		hash    string
		now     time.Time
		wantErr error
	}{
		{"r0 after newer ones were issued", "r0", t0.Add(time.Minute), store.ErrNotFound},
		{"r1 after a newer one was issued", "r1", t0.Add(time.Minute), store.ErrNotFound},
		{"r2 at its expiry", "r2", expires, store.ErrNotFound},
		{"r2 after its expiry", "r2", expires.Add(time.Minute), store.ErrNotFound},
		{"r2 1µs before expiry (failed attempts did not use it)", "r2", expires.Add(-time.Microsecond), nil},
		{"r2 again", "r2", t0, store.ErrNotFound},
		{"unknown token", "nope", t0, store.ErrNotFound},
		{"another user's token is untouched", "o1", t0.Add(time.Minute), nil},
	}
	for _, st := range steps {
		got, err := s.ConsumeResetToken(ctx, st.hash, st.now)
		if st.wantErr != nil {
			wantErr(t, "ConsumeResetToken: "+st.what, err, st.wantErr)
			continue
		}
		check(t, "ConsumeResetToken: "+st.what, err)
		want := u.ID
		if st.hash == "o1" {
			want = other.ID
		}
		equal(t, "user id from ConsumeResetToken: "+st.what, got, want)
	}
}

// testResetTokensIssuedAtOnce issues tokens of one user concurrently and uses them all:
// exactly one works, however the issuing raced (using one ends the others).
func testResetTokensIssuedAtOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "burst@example.com", t0, true)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.CreateResetToken(ctx, store.ResetToken{TokenHash: fmt.Sprintf("burst%d", i), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
			if err != nil {
				t.Errorf("CreateResetToken: %v", err)
			}
		})
	}
	wg.Wait()
	ok := 0
	for i := range n {
		_, err := s.ConsumeResetToken(ctx, fmt.Sprintf("burst%d", i), t0.Add(time.Minute))
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("ConsumeResetToken = %v, want nil or ErrNotFound", err)
		}
	}
	equal(t, "tokens of one user that worked", ok, 1)
}

// testResetTokenRace uses one token from several goroutines: exactly one succeeds.
func testResetTokenRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "race@example.com", t0, true)
	check(t, "CreateResetToken", s.CreateResetToken(ctx, store.ResetToken{TokenHash: "once", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	const racers = 8
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.ConsumeResetToken(ctx, "once", t0.Add(time.Minute))
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("ConsumeResetToken = %v, want nil or ErrNotFound", err)
		}
	}
	equal(t, "successful uses of one token", ok, 1)
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	actor := mkUser(t, s, "auditor@example.com", t0, true)
	entries := []store.AuditEntry{
		{ID: newID(t), Time: t0, ActorID: actor.ID, Action: "login.success", Target: actor.ID, IP: "192.0.2.1", Detail: "password"},
		{ID: newID(t), Time: t0.Add(2 * time.Second), ActorID: "", Action: "login.failure", Target: "nobody@example.com", IP: "2001:db8::1", Detail: "unknown e-mail"},
		{ID: newID(t), Time: t0.Add(time.Second), ActorID: actor.ID, Action: "password.change", Target: actor.ID},
	}
	for _, e := range entries {
		check(t, "AddAudit "+e.Action, s.AddAudit(ctx, e))
	}
	newestFirst := []store.AuditEntry{entries[1], entries[2], entries[0]}
	for _, limit := range []int{10, 3, 2, 1} {
		got, err := s.ListAudit(ctx, limit)
		check(t, "ListAudit", err)
		equal(t, fmt.Sprintf("ListAudit(%d)", limit), got, newestFirst[:min(limit, 3)])
	}
	got, err := s.ListAudit(ctx, 0)
	check(t, "ListAudit(0)", err)
	equal(t, "len(ListAudit(0))", len(got), 0)

	// The trail outlives the account it mentions.
	check(t, "DeleteUser", s.DeleteUser(ctx, actor.ID))
	got, err = s.ListAudit(ctx, 10)
	check(t, "ListAudit after DeleteUser", err)
	equal(t, "ListAudit after DeleteUser", got, newestFirst)

	// ID and Time are filled in when empty.
	before := time.Now().Add(-time.Second)
	check(t, "AddAudit without ID and time", s.AddAudit(ctx, store.AuditEntry{Action: "user.delete", Target: actor.ID}))
	got, err = s.ListAudit(ctx, 1)
	check(t, "ListAudit", err)
	if len(got) != 1 {
		t.Fatalf("ListAudit(1) returned %d entries, want 1", len(got))
	}
	if _, err := uuid.Parse(got[0].ID); err != nil {
		t.Errorf("generated audit id %q: %v", got[0].ID, err)
	}
	if got[0].Action != "user.delete" || got[0].Time.Before(before) || got[0].Time.Location() != time.UTC {
		t.Errorf("entry without ID and time stored as %+v, want action user.delete at about now, UTC", got[0])
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetSetting(ctx, "registration.open")
	wantErr(t, "GetSetting of a key never set", err, store.ErrNotFound)
	for _, v := range []string{"false", "true", ""} {
		check(t, "SetSetting "+v, s.SetSetting(ctx, "registration.open", v))
		got, err := s.GetSetting(ctx, "registration.open")
		check(t, "GetSetting", err)
		equal(t, "GetSetting after SetSetting("+v+")", got, v)
	}
	check(t, "SetSetting other", s.SetSetting(ctx, "other", "x"))
	got, err := s.GetSetting(ctx, "registration.open")
	check(t, "GetSetting", err)
	equal(t, "GetSetting after setting another key", got, "")
}

func testDeleteUserCascades(t *testing.T, s store.Store) {
	ctx := context.Background()
	gone := mkUser(t, s, "gone@example.com", t0, true)
	stays := mkUser(t, s, "stays@example.com", t0, true)
	exp := t0.Add(time.Hour)
	check(t, "CreateSession", s.CreateSession(ctx, mkSession(gone.ID, "gone-1", t0, exp)))
	check(t, "CreateSession", s.CreateSession(ctx, mkSession(gone.ID, "gone-2", t0, exp)))
	check(t, "CreateSession", s.CreateSession(ctx, mkSession(stays.ID, "stays-1", t0, exp)))
	check(t, "CreateResetToken", s.CreateResetToken(ctx, store.ResetToken{TokenHash: "gone-reset", UserID: gone.ID, CreatedAt: t0, ExpiresAt: exp}))
	check(t, "CreateResetToken", s.CreateResetToken(ctx, store.ResetToken{TokenHash: "stays-reset", UserID: stays.ID, CreatedAt: t0, ExpiresAt: exp}))

	check(t, "DeleteUser", s.DeleteUser(ctx, gone.ID))

	for _, h := range []string{"gone-1", "gone-2"} {
		_, _, err := s.GetSession(ctx, h)
		wantErr(t, "GetSession("+h+") after deleting its user", err, store.ErrNotFound)
	}
	_, err := s.ConsumeResetToken(ctx, "gone-reset", t0)
	wantErr(t, "ConsumeResetToken after deleting its user", err, store.ErrNotFound)

	if _, _, err := s.GetSession(ctx, "stays-1"); err != nil {
		t.Errorf("GetSession(stays-1) = %v, want the other user's session kept", err)
	}
	id, err := s.ConsumeResetToken(ctx, "stays-reset", t0)
	check(t, "ConsumeResetToken(stays-reset)", err)
	equal(t, "ConsumeResetToken(stays-reset)", id, stays.ID)

	// The e-mail is free again.
	again := mkUser(t, s, "GONE@example.com", t0, true)
	equal(t, "role of a re-registered user", again.Role, store.RoleUser)
}

func testTimePrecision(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	created := time.Date(2025, 1, 2, 3, 4, 5, 123456789, zone)
	updated := time.Date(2031, 12, 31, 23, 59, 59, 999999999, zone)
	wantCreated := time.Date(2025, 1, 1, 21, 34, 5, 123456000, time.UTC)
	wantUpdated := time.Date(2031, 12, 31, 18, 29, 59, 999999000, time.UTC)

	u := store.User{ID: newID(t), Email: "time@example.com", Name: "t", PasswordHash: "h", CreatedAt: created, UpdatedAt: updated}
	check(t, "CreateUser", s.CreateUser(ctx, &u, true))
	equal(t, "CreatedAt returned by CreateUser", u.CreatedAt, wantCreated)
	equal(t, "UpdatedAt returned by CreateUser", u.UpdatedAt, wantUpdated)
	got := mustGetUser(t, s, u.ID)
	equal(t, "CreatedAt", got.CreatedAt, wantCreated)
	equal(t, "UpdatedAt", got.UpdatedAt, wantUpdated)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}

	check(t, "CreateSession", s.CreateSession(ctx, store.Session{
		TokenHash: "t", UserID: u.ID, CSRFToken: "c",
		CreatedAt: created, LastSeenAt: created.Add(time.Nanosecond), ExpiresAt: updated,
	}))
	sess, _, err := s.GetSession(ctx, "t")
	check(t, "GetSession", err)
	equal(t, "session times", []time.Time{sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt},
		[]time.Time{wantCreated, wantCreated, wantUpdated})
}
