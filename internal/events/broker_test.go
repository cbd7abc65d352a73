package events

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

func ev(user string, n int) Event {
	return Event{Type: TypeRunProgress, UserID: user, Data: json.RawMessage(`{"n":` + strconv.Itoa(n) + `}`)}
}

// recv takes what is buffered on s without waiting.
func recv(s *Subscription) []Event {
	var out []Event
	for {
		select {
		case e, ok := <-s.C:
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestBrokerIsolation(t *testing.T) {
	b := NewBroker(BrokerConfig{First: 100})
	a, _, _ := b.Subscribe("alice", false, "")
	bob, _, _ := b.Subscribe("bob", false, "")
	admin, _, _ := b.Subscribe("root", true, "")
	b.Publish(ev("alice", 1))
	b.Publish(ev("bob", 2))
	b.Publish(ev("alice", 3))
	for _, tc := range []struct {
		name string
		s    *Subscription
		want []uint64
	}{{"alice", a, []uint64{101, 103}}, {"bob", bob, []uint64{102}}, {"admin", admin, []uint64{101, 102, 103}}} {
		var got []uint64
		for _, e := range recv(tc.s) {
			got = append(got, e.ID)
			if tc.name != "admin" && e.UserID != tc.name {
				t.Errorf("%s received %s's event %d", tc.name, e.UserID, e.ID)
			}
		}
		if !equalIDs(got, tc.want) {
			t.Errorf("%s got ids %v, want %v", tc.name, got, tc.want)
		}
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ids(es []Event) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestBrokerResume(t *testing.T) {
	b := NewBroker(BrokerConfig{Ring: 4, First: 10})
	for i := range 6 { // ids 11..16; the ring keeps 13..16
		b.Publish(ev([]string{"alice", "bob"}[i%2], i))
	}
	for _, tc := range []struct {
		last      string
		user      string
		admin     bool
		want      []uint64
		wantReset bool
	}{
		{"14", "alice", false, []uint64{15}, false},
		{"12", "root", true, []uint64{13, 14, 15, 16}, false}, // 12 is the floor: all after it are kept
		{"11", "alice", false, nil, true},                     // 12 is gone
		{"16", "alice", false, nil, false},
		{"20", "alice", false, nil, false}, // ahead: another replica was quicker
		{"9999999", "alice", false, nil, true},
		{"x", "alice", false, nil, true},
	} {
		s, replay, reset := b.Subscribe(tc.user, tc.admin, tc.last)
		if !equalIDs(ids(replay), tc.want) || reset != tc.wantReset {
			t.Errorf("resume %s as %s: replay %v reset %v; want %v reset %v", tc.last, tc.user, ids(replay), reset, tc.want, tc.wantReset)
		}
		s.Close()
	}
	// Resumed ahead: events up to the given id are not sent again.
	s, _, _ := b.Subscribe("alice", false, "18")
	b.Publish(ev("alice", 17)) // 17
	b.Publish(ev("alice", 18)) // 18
	b.Publish(ev("alice", 19)) // 19
	if got := ids(recv(s)); !equalIDs(got, []uint64{19}) {
		t.Errorf("resumed at 18, then got %v; want [19]", got)
	}
}

// TestBrokerSlowSubscriberDropped: a subscriber that never reads holds at most its
// buffer and is dropped; the publisher never waits and others keep receiving.
func TestBrokerSlowSubscriberDropped(t *testing.T) {
	b := NewBroker(BrokerConfig{Buffer: 8})
	slow, _, _ := b.Subscribe("alice", false, "")
	fast, _, _ := b.Subscribe("alice", false, "")
	got := 0
	done := make(chan struct{})
	go func() {
		for range fast.C {
			got++
		}
		close(done)
	}()
	published := make(chan struct{})
	go func() {
		for i := range 10000 {
			b.Publish(ev("alice", i))
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if !slow.Dropped() {
		t.Error("the subscriber that never read was not dropped")
	}
	n := 0
	for range slow.C { // closed: what it holds is bounded by its buffer
		n++
	}
	if n > 8 {
		t.Errorf("dropped subscriber held %d events, more than its buffer of 8", n)
	}
	if st := b.Stats(); st.Drops < 1 {
		t.Errorf("stats %+v, want a drop counted", st)
	}
	fast.Close()
	<-done
	if got == 0 {
		t.Error("the reading subscriber got nothing")
	}
}

func TestBrokerGapsReset(t *testing.T) {
	b := NewBroker(BrokerConfig{})
	b.Restart(50, "start")
	s, _, _ := b.Subscribe("alice", false, "")
	b.Deliver(Event{ID: 51, Type: TypeRunStatus, UserID: "alice"})
	b.Deliver(Event{ID: 51, Type: TypeRunStatus, UserID: "alice"}) // repeated: dropped
	b.Deliver(Event{ID: 54, Type: TypeRunStatus, UserID: "alice"}) // 52, 53 missed
	var types []string
	for _, e := range recv(s) {
		types = append(types, strconv.FormatUint(e.ID, 10)+":"+e.Type)
	}
	if want := "51:run.status 0:reset 54:run.status"; join(types) != want {
		t.Errorf("got %q, want %q", join(types), want)
	}
	if _, _, reset := b.Subscribe("alice", false, "52"); !reset {
		t.Error("resume from inside the gap was not a reset")
	}
	if _, replay, reset := b.Subscribe("alice", false, "53"); reset || len(replay) != 1 {
		t.Errorf("resume from 53: replay %v reset %v; want [54]", ids(replay), reset)
	}
	// Reconnected to the database and the counter moved: reset, nothing resumes.
	b.Restart(60, "reconnected")
	if got := recv(s); len(got) != 1 || got[0].Type != TypeReset {
		t.Errorf("after Restart got %v, want one reset", got)
	}
	if _, _, reset := b.Subscribe("alice", false, "54"); !reset {
		t.Error("resume from before a Restart that moved was not a reset")
	}
	// Same counter: nothing was missed.
	b.Restart(60, "reconnected")
	if got := recv(s); len(got) != 0 {
		t.Errorf("Restart at the same id sent %v", got)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestBrokerClose(t *testing.T) {
	b := NewBroker(BrokerConfig{})
	s, _, _ := b.Subscribe("alice", false, "")
	b.Close()
	if _, ok := <-s.C; ok {
		t.Error("subscription open after Close")
	}
	late, _, _ := b.Subscribe("alice", false, "")
	if _, ok := <-late.C; ok {
		t.Error("subscription after Close is open")
	}
	b.Publish(ev("alice", 1)) // no panic on closed channels
}

func TestBrokerResetOncePerLoss(t *testing.T) {
	b := NewBroker(BrokerConfig{First: 1})
	s, _, _ := b.Subscribe("alice", false, "")
	for range 100 {
		b.Reset("events were lost")
	}
	if got := recv(s); len(got) != 1 || got[0].Type != TypeReset {
		t.Fatalf("100 losses sent %d events, want one reset", len(got))
	}
	if _, _, reset := b.Subscribe("alice", false, "1"); !reset {
		t.Error("resume after a loss was not a reset")
	}
	b.Deliver(Event{ID: 5, Type: TypeRunStatus, UserID: "alice"})
	b.Reset("lost again")
	if got := recv(s); len(got) != 2 || got[0].ID != 5 || got[1].Type != TypeReset {
		t.Errorf("after an event and a new loss got %v, want the event and a reset", got)
	}
}
