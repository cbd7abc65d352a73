package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// destinationTests test store.Destinations.
var destinationTests = []test{
	{"Destinations", testDestinations},
	{"DestinationConflicts", testDestinationConflicts},
	{"DestinationNotFound", testDestinationNotFound},
	{"DestinationsCascade", testDestinationsCascade},
}

func mkDestination(t *testing.T, s store.Store, userID, name, kind, settings string, creds []byte, at time.Time) store.Destination {
	t.Helper()
	d := store.Destination{
		ID: newID(t), UserID: userID, Name: name, Kind: kind, Settings: json.RawMessage(settings),
		Credentials: creds, CreatedAt: at, UpdatedAt: at,
	}
	check(t, "CreateDestination "+name, s.CreateDestination(context.Background(), d))
	return d
}

// sameDestination compares destinations with settings compared as JSON values:
// PostgreSQL's jsonb does not keep the text as given.
func sameDestination(t *testing.T, what string, got, want store.Destination) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got.Settings, &g); err != nil {
		t.Errorf("%s: settings %q: %v", what, got.Settings, err)
	}
	if len(want.Settings) == 0 {
		want.Settings = json.RawMessage("{}")
	}
	_ = json.Unmarshal(want.Settings, &w)
	equal(t, what+": settings", g, w)
	if !bytes.Equal(got.Credentials, want.Credentials) {
		t.Errorf("%s: credentials %x, want %x", what, got.Credentials, want.Credentials)
	}
	got.Settings, want.Settings, got.Credentials, want.Credentials = nil, nil, nil, nil
	equal(t, what, got, want)
}

func sameDestinations(t *testing.T, what string, got, want []store.Destination) {
	t.Helper()
	if len(got) != len(want) {
		var names []string
		for _, d := range got {
			names = append(names, d.Name)
		}
		t.Fatalf("%s: %d destinations %v, want %d", what, len(got), names, len(want))
	}
	for i := range got {
		sameDestination(t, what, got[i], want[i])
	}
}

func testDestinations(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "bob@example.com", t0, true)

	// Created out of order, so the list's order is the store's doing.
	aliceS3 := mkDestination(t, s, alice.ID, "Wasabi", store.DestinationS3,
		`{"endpoint":"https://s3.wasabisys.com","region":"eu-central-1","bucket":"b","pathStyle":true,"sse":"AES256"}`,
		[]byte{0, 1, 2, 0xff}, t0.Add(2*time.Second))
	local := mkDestination(t, s, "", "Server disk", store.DestinationLocal, `{}`, nil, t0.Add(3*time.Second))
	aliceOld := mkDestination(t, s, alice.ID, "AWS", store.DestinationS3, `{"bucket":"old"}`, []byte("sealed"), t0.Add(time.Second))
	bobS3 := mkDestination(t, s, bob.ID, "Wasabi", store.DestinationS3, `{"bucket":"bobs"}`, []byte("bob's"), t0)
	noSettings := mkDestination(t, s, bob.ID, "Empty", store.DestinationS3, ``, nil, t0.Add(time.Minute))
	noSettings.Settings = json.RawMessage(`{}`)

	got, err := s.GetDestination(ctx, aliceS3.ID)
	check(t, "GetDestination", err)
	sameDestination(t, "GetDestination(alice's)", got, aliceS3)
	got, err = s.GetDestination(ctx, local.ID)
	check(t, "GetDestination(shared)", err)
	sameDestination(t, "GetDestination(shared)", got, local)
	equal(t, "shared destination's owner", got.UserID, "")
	equal(t, "no credentials", got.Credentials == nil, true)

	list, err := s.ListDestinations(ctx, alice.ID)
	check(t, "ListDestinations(alice)", err)
	sameDestinations(t, "ListDestinations(alice): shared first, then oldest first", list, []store.Destination{local, aliceOld, aliceS3})
	list, err = s.ListDestinations(ctx, bob.ID)
	check(t, "ListDestinations(bob)", err)
	sameDestinations(t, "ListDestinations(bob)", list, []store.Destination{local, bobS3, noSettings})
	list, err = s.ListDestinations(ctx, "")
	check(t, "ListDestinations(\"\")", err)
	sameDestinations(t, "ListDestinations(\"\"): only shared", list, []store.Destination{local})
	list, err = s.ListAllDestinations(ctx)
	check(t, "ListAllDestinations", err)
	sameDestinations(t, "ListAllDestinations", list, []store.Destination{local, bobS3, aliceOld, aliceS3, noSettings})

	upd := aliceS3
	upd.Name = "Wasabi EU"
	upd.Settings = json.RawMessage(`{"bucket":"new","storageClass":"STANDARD_IA"}`)
	upd.Credentials = []byte("resealed")
	upd.UpdatedAt = t0.Add(time.Hour)
	// Owner, kind and creation time are not the update's to change.
	sneaky := upd
	sneaky.UserID, sneaky.Kind, sneaky.CreatedAt = bob.ID, store.DestinationLocal, t0.Add(24*time.Hour)
	check(t, "UpdateDestination", s.UpdateDestination(ctx, sneaky))
	got, err = s.GetDestination(ctx, aliceS3.ID)
	check(t, "GetDestination after update", err)
	sameDestination(t, "after UpdateDestination", got, upd)

	upd.Credentials = nil
	check(t, "UpdateDestination without credentials", s.UpdateDestination(ctx, upd))
	got, err = s.GetDestination(ctx, aliceS3.ID)
	check(t, "GetDestination after update", err)
	sameDestination(t, "after clearing credentials", got, upd)

	check(t, "DeleteDestination", s.DeleteDestination(ctx, aliceOld.ID))
	_, err = s.GetDestination(ctx, aliceOld.ID)
	wantErr(t, "GetDestination after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteDestination twice", s.DeleteDestination(ctx, aliceOld.ID), store.ErrNotFound)
	list, err = s.ListDestinations(ctx, alice.ID)
	check(t, "ListDestinations(alice) after delete", err)
	sameDestinations(t, "ListDestinations(alice) after delete", list, []store.Destination{local, upd})
}

func testDestinationConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "bob@example.com", t0, true)
	a := mkDestination(t, s, alice.ID, "Offsite", store.DestinationS3, `{"bucket":"a"}`, nil, t0)
	mkDestination(t, s, alice.ID, "Other", store.DestinationS3, `{"bucket":"a"}`, nil, t0)
	mkDestination(t, s, bob.ID, "Offsite", store.DestinationS3, `{"bucket":"a"}`, nil, t0) // names are per owner
	mkDestination(t, s, "", "Server disk", store.DestinationLocal, `{}`, nil, t0)

	dup := store.Destination{ID: newID(t), UserID: alice.ID, Name: "Offsite", Kind: store.DestinationS3, Settings: json.RawMessage(`{}`), CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "CreateDestination with alice's name", s.CreateDestination(ctx, dup), store.ErrConflict)
	sameID := dup
	sameID.ID, sameID.Name = a.ID, "Fresh"
	wantErr(t, "CreateDestination with an existing id", s.CreateDestination(ctx, sameID), store.ErrConflict)
	second := store.Destination{ID: newID(t), Name: "Another disk", Kind: store.DestinationLocal, Settings: json.RawMessage(`{}`), CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "a second shared local destination", s.CreateDestination(ctx, second), store.ErrConflict)

	rename := a
	rename.Name = "Other"
	wantErr(t, "UpdateDestination to another of alice's names", s.UpdateDestination(ctx, rename), store.ErrConflict)

	bad := store.Destination{ID: newID(t), UserID: alice.ID, Name: "Bad", Kind: "ftp", Settings: json.RawMessage(`{}`), CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateDestination(ctx, bad); err == nil {
		t.Errorf("CreateDestination(kind ftp) = nil, want an error")
	}
	bad.Kind, bad.Settings = store.DestinationS3, json.RawMessage(`{not json`)
	if err := s.CreateDestination(ctx, bad); err == nil {
		t.Errorf("CreateDestination(invalid JSON settings) = nil, want an error")
	}
	list, err := s.ListAllDestinations(ctx)
	check(t, "ListAllDestinations", err)
	equal(t, "destinations after the refused writes", len(list), 4)
}

func testDestinationNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{newID(t), "not-a-uuid", ""} {
		_, err := s.GetDestination(ctx, id)
		wantErr(t, "GetDestination("+id+")", err, store.ErrNotFound)
		d := store.Destination{ID: id, Name: "x", Kind: store.DestinationS3, Settings: json.RawMessage(`{}`), UpdatedAt: t0}
		wantErr(t, "UpdateDestination("+id+")", s.UpdateDestination(ctx, d), store.ErrNotFound)
		wantErr(t, "DeleteDestination("+id+")", s.DeleteDestination(ctx, id), store.ErrNotFound)
	}
	list, err := s.ListDestinations(ctx, "not-a-uuid")
	check(t, "ListDestinations(not-a-uuid)", err)
	equal(t, "ListDestinations(not-a-uuid)", len(list), 0)
}

func testDestinationsCascade(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	mkDestination(t, s, alice.ID, "Offsite", store.DestinationS3, `{"bucket":"a"}`, []byte("x"), t0)
	local := mkDestination(t, s, "", "Server disk", store.DestinationLocal, `{}`, nil, t0)
	check(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	list, err := s.ListAllDestinations(ctx)
	check(t, "ListAllDestinations", err)
	sameDestinations(t, "after deleting the owner, only the shared destination is left", list, []store.Destination{local})
}
