package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// notificationTests check store.Notifications: channels, the outbox written in the
// alert's transaction, claims that two workers never share, leases that expire, and
// channels deleted with messages queued.
var notificationTests = []test{
	{"NotificationChannels", testChannels},
	{"NotifyInAlertTransaction", testNotifyInAlertTx},
	{"ClaimLeaseFinish", testClaimLeaseFinish},
	{"ClaimRace", testClaimRace},
	{"DeleteChannelDropsQueued", testDeleteChannelDrops},
	{"ChannelsForAndActivity", testChannelsForAndActivity},
	{"PruneMessages", testPruneMessages},
}

func mkChannel(t *testing.T, s store.Store, userID, name string, events []string, configs ...string) store.Channel {
	t.Helper()
	c := store.Channel{UserID: userID, Name: name, Kind: store.ChannelWebhook, Preset: "generic",
		Target: "https://hooks.example.com/" + name, Secret: "s3cret", Events: events, ConfigIDs: configs, Enabled: true,
		CreatedAt: t0, UpdatedAt: t0}
	check(t, "CreateChannel "+name, s.CreateChannel(context.Background(), &c))
	return c
}

func testChannels(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "chan@example.com", t0, true)
	other := mkUser(t, s, "other@example.com", t0, true)
	b := mkChannel(t, s, u.ID, "b-hook", []string{"failure", "resolved"})
	a := mkChannel(t, s, u.ID, "a-mail", nil)
	mkChannel(t, s, other.ID, "theirs", []string{"failure"})

	got, err := s.GetChannel(ctx, b.ID)
	check(t, "GetChannel", err)
	equal(t, "GetChannel", got, b)
	list, err := s.ListChannels(ctx, u.ID)
	check(t, "ListChannels", err)
	equal(t, "ListChannels (by name, own only)", []string{list[0].Name, list[1].Name}, []string{"a-mail", "b-hook"})
	equal(t, "len(ListChannels)", len(list), 2)

	a.Kind, a.Preset, a.Target, a.Events, a.ConfigIDs = store.ChannelEmail, "", "me@example.com", []string{"late"}, []string{newID(t)}
	a.Enabled, a.UpdatedAt = false, t0.Add(time.Hour)
	check(t, "UpdateChannel", s.UpdateChannel(ctx, &a))
	got, err = s.GetChannel(ctx, a.ID)
	check(t, "GetChannel after update", err)
	equal(t, "after UpdateChannel", got, a)

	bad := store.Channel{UserID: u.ID, Name: "x", Kind: store.ChannelWebhook, Events: []string{"a,b"}, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateChannel(ctx, &bad); err == nil {
		t.Error("CreateChannel with a comma in an event name succeeded")
	}
	_, err = s.DeleteChannel(ctx, a.ID, t0, "deleted")
	check(t, "DeleteChannel", err)
	_, err = s.GetChannel(ctx, a.ID)
	wantErr(t, "GetChannel after delete", err, store.ErrNotFound)
	_, err = s.DeleteChannel(ctx, a.ID, t0, "deleted")
	wantErr(t, "DeleteChannel twice", err, store.ErrNotFound)
	missing := store.Channel{ID: newID(t), UserID: u.ID, CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "UpdateChannel of a missing one", s.UpdateChannel(ctx, &missing), store.ErrNotFound)
}

func notice(event string) func(store.Alert) store.Notice {
	return func(a store.Alert) store.Notice {
		p, _ := json.Marshal(map[string]any{"version": 1, "event": event, "alert": a.ID, "count": a.Occurrences})
		return store.Notice{Event: event, Payload: p, Dedupe: fmt.Sprintf("%s:%s:%d", event, a.ID, a.Occurrences)}
	}
}

// outbox lists every message by channel.
func outbox(t *testing.T, s store.Store) map[string][]store.Message {
	t.Helper()
	ms, err := s.ListMessages(context.Background(), "", 1000)
	check(t, "ListMessages", err)
	out := map[string][]store.Message{}
	for _, m := range ms {
		out[m.ChannelID] = append(out[m.ChannelID], m)
	}
	return out
}

func testNotifyInAlertTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "notify@example.com", t0, true)
	other := mkUser(t, s, "bystander@example.com", t0, true)
	ag := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, ag.ID, "nightly", t0)
	c2 := mkConfig(t, s, u.ID, ag.ID, "weekly", t0)
	all := mkChannel(t, s, u.ID, "all", []string{"failure", "resolved"})
	onlyC2 := mkChannel(t, s, u.ID, "only-weekly", []string{"failure"}, c2.ID)
	lateOnly := mkChannel(t, s, u.ID, "late-only", []string{"late"})
	off := mkChannel(t, s, u.ID, "off", []string{"failure"})
	off.Enabled = false
	check(t, "disable", s.UpdateChannel(ctx, &off))
	theirs := mkChannel(t, s, other.ID, "theirs", []string{"failure", "resolved"})

	a := store.Alert{UserID: u.ID, ConfigID: c.ID, AgentID: ag.ID, Type: "failure", Rule: "run_failed", Subject: c.ID,
		Ref: "run1", Message: "failed", Timestamp: t0}
	raised, err := s.RaiseAlertNotify(ctx, &a, notice("failure"))
	check(t, "RaiseAlertNotify", err)
	equal(t, "raised", raised, true)
	box := outbox(t, s)
	equal(t, "messages of the matching channel", len(box[all.ID]), 1)
	for _, ch := range []store.Channel{onlyC2, lateOnly, off, theirs} {
		equal(t, "messages of "+ch.Name, len(box[ch.ID]), 0)
	}
	m := box[all.ID][0]
	equal(t, "message", [4]string{m.State, m.Event, m.AlertID, m.UserID}, [4]string{store.MessageQueued, "failure", a.ID, u.ID})
	var p map[string]any
	check(t, "payload", json.Unmarshal(m.Payload, &p))
	equal(t, "payload alert", p["alert"], any(a.ID))

	// The same occurrence again enqueues nothing; a new one does.
	again := store.Alert{UserID: u.ID, ConfigID: c.ID, Type: "failure", Rule: "run_failed", Subject: c.ID, Ref: "run1", Timestamp: t0}
	_, err = s.RaiseAlertNotify(ctx, &again, notice("failure"))
	check(t, "RaiseAlertNotify again", err)
	equal(t, "messages after the same occurrence", len(outbox(t, s)[all.ID]), 1)
	next := again
	next.Ref = "run2"
	_, err = s.RaiseAlertNotify(ctx, &next, notice("failure"))
	check(t, "RaiseAlertNotify run2", err)
	equal(t, "messages after a new occurrence", len(outbox(t, s)[all.ID]), 2)

	res, err := s.ResolveAlertNotify(ctx, "run_failed", c.ID, t0.Add(time.Hour), "run3 succeeded", notice("resolved"))
	check(t, "ResolveAlertNotify", err)
	equal(t, "resolution", res.Resolution, "run3 succeeded")
	box = outbox(t, s)
	equal(t, "messages after resolve", len(box[all.ID]), 3)
	equal(t, "their messages after resolve", len(box[theirs.ID]), 0)
	_, err = s.ResolveAlertNotify(ctx, "run_failed", c.ID, t0.Add(time.Hour), "again", notice("resolved"))
	wantErr(t, "resolve twice", err, store.ErrNotFound)

	// The failing channel's own alert is not sent to it.
	cf := store.Alert{UserID: u.ID, Type: "failure", Rule: "channel_failing", Subject: all.ID, Ref: "d1", Timestamp: t0}
	_, err = s.RaiseAlertNotify(ctx, &cf, func(a store.Alert) store.Notice {
		n := notice("failure")(a)
		n.ExceptChannel = all.ID
		return n
	})
	check(t, "RaiseAlertNotify channel_failing", err)
	equal(t, "messages to the failing channel", len(outbox(t, s)[all.ID]), 3)
}

func enqueueN(t *testing.T, s store.Store, ch store.Channel, n int, at time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		m := store.Message{ChannelID: ch.ID, UserID: ch.UserID, Event: "failure", Dedupe: fmt.Sprintf("m%d", i),
			Payload: json.RawMessage(`{"version":1}`), NextAttemptAt: at, CreatedAt: at}
		added, err := s.Enqueue(context.Background(), &m)
		check(t, "Enqueue", err)
		equal(t, "added", added, true)
		ids = append(ids, m.ID)
	}
	return ids
}

func testClaimLeaseFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "claim@example.com", t0, true)
	ch := mkChannel(t, s, u.ID, "hook", []string{"failure"})
	ids := enqueueN(t, s, ch, 2, t0)
	dup := store.Message{ChannelID: ch.ID, UserID: u.ID, Event: "failure", Dedupe: "m0", Payload: json.RawMessage(`{}`),
		NextAttemptAt: t0, CreatedAt: t0}
	added, err := s.Enqueue(ctx, &dup)
	check(t, "Enqueue duplicate", err)
	equal(t, "duplicate added", added, false)

	none, err := s.ClaimMessages(ctx, "w1", t0.Add(-time.Second), time.Minute, 10)
	check(t, "ClaimMessages before due", err)
	equal(t, "claimed before due", len(none), 0)

	got, err := s.ClaimMessages(ctx, "w1", t0, time.Minute, 1)
	check(t, "ClaimMessages", err)
	equal(t, "claimed", len(got), 1)
	m := got[0]
	equal(t, "claimed message", [3]any{m.ID, m.State, m.Attempts}, [3]any{ids[0], store.MessageSending, 1})
	rest, err := s.ClaimMessages(ctx, "w2", t0, time.Minute, 10)
	check(t, "ClaimMessages w2", err)
	equal(t, "w2 gets only the other", len(rest), 1)
	equal(t, "w2's", rest[0].ID, ids[1])

	// w1 stalls past its lease (a SIGKILLed server): w3 claims the message again.
	again, err := s.ClaimMessages(ctx, "w3", t0.Add(2*time.Minute), time.Minute, 10)
	check(t, "ClaimMessages after the leases expired", err)
	equal(t, "reclaimed", len(again), 2)
	err = s.FinishMessage(ctx, m.ID, "w1", t0.Add(2*time.Minute), store.Outcome{State: store.MessageDelivered})
	wantErr(t, "FinishMessage by the worker that lost it", err, store.ErrConflict)

	at := t0.Add(3 * time.Minute)
	check(t, "FinishMessage failed", s.FinishMessage(ctx, m.ID, "w3", at, store.Outcome{State: store.MessageFailed,
		Next: at.Add(30 * time.Second), LastError: "status 500",
		Attempt: store.Attempt{Event: "failure", At: at, Status: 500, Error: "status 500", Response: "boom", Duration: 1500 * time.Millisecond}}))
	got1, err := s.GetMessage(ctx, m.ID)
	check(t, "GetMessage", err)
	equal(t, "after a failed attempt", [4]any{got1.State, got1.Attempts, got1.LastError, got1.LockedBy},
		[4]any{store.MessageFailed, 2, "status 500", ""})
	equal(t, "next attempt", got1.NextAttemptAt, at.Add(30*time.Second).UTC().Truncate(time.Microsecond))
	has := func(ms []store.Message, id string) bool {
		for _, m := range ms {
			if m.ID == id {
				return true
			}
		}
		return false
	}
	early, err := s.ClaimMessages(ctx, "w3", at.Add(29*time.Second), 10*time.Minute, 10)
	check(t, "ClaimMessages before the retry", err)
	equal(t, "claimed before the retry is due", has(early, m.ID), false)
	retry, err := s.ClaimMessages(ctx, "w3", at.Add(30*time.Second), time.Minute, 10)
	check(t, "ClaimMessages retry", err)
	equal(t, "retry claimed", has(retry, m.ID), true)
	done := at.Add(31 * time.Second)
	check(t, "FinishMessage delivered", s.FinishMessage(ctx, m.ID, "w3", done, store.Outcome{State: store.MessageDelivered,
		Attempt: store.Attempt{Event: "failure", At: done, Status: 204, Duration: 20 * time.Millisecond}}))
	final, err := s.GetMessage(ctx, m.ID)
	check(t, "GetMessage delivered", err)
	equal(t, "delivered", final.State, store.MessageDelivered)
	if final.FinishedAt == nil {
		t.Error("FinishedAt nil after delivery")
	}
	again2, err := s.ClaimMessages(ctx, "w4", done.Add(time.Hour), time.Minute, 10)
	check(t, "ClaimMessages after delivery", err)
	for _, m := range again2 {
		if m.ID == final.ID {
			t.Error("a delivered message was claimed again")
		}
	}

	test := store.Attempt{ChannelID: ch.ID, Event: "test", At: done.Add(time.Second), Error: "connection refused", Duration: time.Millisecond}
	check(t, "AddAttempt", s.AddAttempt(ctx, &test))
	atts, err := s.ListAttempts(ctx, ch.ID, 10)
	check(t, "ListAttempts", err)
	equal(t, "attempts", len(atts), 3)
	equal(t, "newest first", [3]any{atts[0].Event, atts[1].Status, atts[2].Response}, [3]any{"test", 204, "boom"})
	equal(t, "duration", atts[2].Duration, 1500*time.Millisecond)
	equal(t, "message of an attempt", atts[1].MessageID, m.ID)

	counts, err := s.CountMessagesByState(ctx)
	check(t, "CountMessagesByState", err)
	equal(t, "counts", counts, map[string]int{store.MessageDelivered: 1, store.MessageSending: 1})
}

// testClaimRace has workers claim at once: each message is claimed exactly once.
func testClaimRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "race@example.com", t0, true)
	ch := mkChannel(t, s, u.ID, "hook", []string{"failure"})
	ids := enqueueN(t, s, ch, 120, t0)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimMessages(ctx, fmt.Sprintf("w%d", w), t0, time.Minute, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var got []string
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %s claimed %d times", id, n)
		}
		got = append(got, id)
	}
	sort.Strings(got)
	sort.Strings(ids)
	equal(t, "claimed", got, ids)
}

func testDeleteChannelDrops(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "drop@example.com", t0, true)
	ch := mkChannel(t, s, u.ID, "hook", []string{"failure"})
	ids := enqueueN(t, s, ch, 3, t0)
	claimed, err := s.ClaimMessages(ctx, "w1", t0, time.Minute, 1)
	check(t, "ClaimMessages", err)
	check(t, "FinishMessage", s.FinishMessage(ctx, claimed[0].ID, "w1", t0, store.Outcome{State: store.MessageDelivered,
		Attempt: store.Attempt{Event: "failure", At: t0, Status: 200}}))
	inflight, err := s.ClaimMessages(ctx, "w1", t0, time.Minute, 1)
	check(t, "ClaimMessages in flight", err)

	n, err := s.DeleteChannel(ctx, ch.ID, t0.Add(time.Minute), "the channel was deleted")
	check(t, "DeleteChannel", err)
	equal(t, "dropped", n, 2)
	for _, id := range ids {
		m, err := s.GetMessage(ctx, id)
		check(t, "GetMessage", err)
		equal(t, "channel of a message after delete", m.ChannelID, "")
		if id == claimed[0].ID {
			equal(t, "the delivered one stays delivered", m.State, store.MessageDelivered)
			continue
		}
		equal(t, "state", m.State, store.MessageDropped)
		equal(t, "reason", m.LastError, "the channel was deleted")
	}
	left, err := s.ClaimMessages(ctx, "w2", t0.Add(time.Hour), time.Minute, 10)
	check(t, "ClaimMessages after delete", err)
	equal(t, "claimable after delete", len(left), 0)
	err = s.FinishMessage(ctx, inflight[0].ID, "w1", t0.Add(time.Minute), store.Outcome{State: store.MessageDelivered,
		Attempt: store.Attempt{Event: "failure", At: t0, Status: 200}})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("finishing a message dropped while in flight: %v, want ErrConflict", err)
	}
}

func testChannelsForAndActivity(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "sum@example.com", t0, true)
	other := mkUser(t, s, "other-sum@example.com", t0, true)
	want1 := mkChannel(t, s, u.ID, "daily", []string{"failure", "daily_summary"})
	mkChannel(t, s, u.ID, "no", []string{"failure"})
	off := mkChannel(t, s, other.ID, "off", []string{"daily_summary"})
	off.Enabled = false
	check(t, "disable", s.UpdateChannel(ctx, &off))
	got, err := s.ChannelsFor(ctx, "daily_summary")
	check(t, "ChannelsFor", err)
	if len(got) != 1 || got[0].ID != want1.ID {
		t.Errorf("ChannelsFor(daily_summary) = %+v, want the one enabled channel that wants it", got)
	}

	ag := mkAgent(t, s, u.ID, "box", t0)
	c := mkConfig(t, s, u.ID, ag.ID, "nightly", t0)
	for i, st := range []string{"failed", "completed", "completed"} {
		r := store.Run{ConfigID: c.ID, UserID: u.ID, AgentID: ag.ID, StartTime: t0.Add(time.Duration(i+1) * time.Hour), Status: st}
		check(t, "CreateRun", s.CreateRun(ctx, &r))
	}
	old := store.Run{ConfigID: c.ID, UserID: u.ID, AgentID: ag.ID, StartTime: t0.Add(-48 * time.Hour), Status: "failed"}
	check(t, "CreateRun old", s.CreateRun(ctx, &old))
	raise(t, s, store.Alert{UserID: u.ID, Type: "failure", Rule: "run_failed", Subject: c.ID, Ref: "r1", Timestamp: t0.Add(time.Hour)})
	raise(t, s, store.Alert{UserID: u.ID, Type: "failure", Rule: "no_backup", Subject: c.ID, Ref: "x", Timestamp: t0.Add(2 * time.Hour)})
	raise(t, s, store.Alert{UserID: other.ID, Type: "failure", Rule: "destination", Subject: other.ID, Ref: "y", Timestamp: t0.Add(time.Hour)})
	_, err = s.ResolveAlert(ctx, "run_failed", c.ID, t0.Add(3*time.Hour), "ok")
	check(t, "ResolveAlert", err)
	act, err := s.CountActivity(ctx, u.ID, t0)
	check(t, "CountActivity", err)
	equal(t, "activity", act, store.Activity{AlertsOpened: 2, AlertsResolved: 1, AlertsOpen: 1, RunsFailed: 1, RunsCompleted: 2})
}

// testPruneMessages settles messages in every way, some long ago, and leaves others
// queued, failed and leased since then: pruning deletes the old settled ones with
// their attempts, and old test attempts, and nothing else.
func testPruneMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "prune@example.com", t0, true)
	ch := mkChannel(t, s, u.ID, "hook", []string{"failure"})
	gone := mkChannel(t, s, u.ID, "gone", []string{"failure"})
	ids := enqueueN(t, s, ch, 7, t0)
	claim := func(at time.Time) store.Message {
		t.Helper()
		got, err := s.ClaimMessages(ctx, "w1", at, time.Minute, 1)
		check(t, "ClaimMessages", err)
		equal(t, "claimed", len(got), 1)
		return got[0]
	}
	finish := func(m store.Message, at time.Time, state string) {
		t.Helper()
		check(t, "FinishMessage "+state, s.FinishMessage(ctx, m.ID, "w1", at, store.Outcome{State: state, Next: at.Add(time.Hour),
			Attempt: store.Attempt{Event: "failure", At: at, Status: 500, Error: "x"}}))
	}
	// Long ago (before the cut): delivered, dead and a failed attempt of the one
	// retried since; after it, one delivered.
	old := t0.Add(time.Hour)
	finish(claim(old), old, store.MessageDelivered)                   // ids[0]
	finish(claim(old), old, store.MessageDead)                        // ids[1]
	finish(claim(old), old, store.MessageFailed)                      // ids[2]: retried at old+1h
	finish(claim(old), old.Add(48*time.Hour), store.MessageDelivered) // ids[3]: recent
	// ids[4] is leased since long ago (its worker died), ids[5] and ids[6] queued;
	// a message of a channel deleted long ago is dropped.
	leased := claim(old)
	equal(t, "leased", leased.ID, ids[4])
	dropped := enqueueN(t, s, gone, 1, t0)
	_, err := s.DeleteChannel(ctx, gone.ID, old, "deleted")
	check(t, "DeleteChannel", err)
	oldTest := store.Attempt{ChannelID: ch.ID, Event: "test", At: old, Duration: time.Millisecond}
	newTest := store.Attempt{ChannelID: ch.ID, Event: "test", At: old.Add(48 * time.Hour), Duration: time.Millisecond}
	check(t, "AddAttempt old", s.AddAttempt(ctx, &oldTest))
	check(t, "AddAttempt new", s.AddAttempt(ctx, &newTest))

	cut := old.Add(24 * time.Hour)
	n, err := s.PruneMessages(ctx, cut, 2)
	check(t, "PruneMessages", err)
	equal(t, "pruned in the first batch", n, 2)
	n, err = s.PruneMessages(ctx, cut, 2)
	check(t, "PruneMessages again", err)
	equal(t, "pruned in the second batch", n, 1)
	n, err = s.PruneMessages(ctx, cut, 2)
	check(t, "PruneMessages when done", err)
	equal(t, "pruned when none is due", n, 0)

	for _, id := range []string{ids[0], ids[1], dropped[0]} {
		_, err := s.GetMessage(ctx, id)
		wantErr(t, "an old settled message after the prune", err, store.ErrNotFound)
	}
	for i, want := range map[int]string{2: store.MessageFailed, 3: store.MessageDelivered, 4: store.MessageSending,
		5: store.MessageQueued, 6: store.MessageQueued} {
		m, err := s.GetMessage(ctx, ids[i])
		check(t, fmt.Sprintf("GetMessage %d after the prune", i), err)
		equal(t, fmt.Sprintf("message %d after the prune", i), m.State, want)
	}
	atts, err := s.ListAttempts(ctx, ch.ID, 100)
	check(t, "ListAttempts", err)
	var left []string
	for _, a := range atts {
		left = append(left, a.MessageID+"@"+a.At.Sub(t0).String())
	}
	sort.Strings(left)
	want := []string{"@49h0m0s", ids[2] + "@1h0m0s", ids[3] + "@49h0m0s"}
	sort.Strings(want)
	equal(t, "attempts after the prune (message@time)", left, want)

	// The lease expired long ago: another worker takes the message, as before.
	again, err := s.ClaimMessages(ctx, "w2", cut, time.Minute, 10)
	check(t, "ClaimMessages after the prune", err)
	equal(t, "claimable after the prune", len(again), 4)
}
