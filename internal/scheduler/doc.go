// Package scheduler turns backup schedules (a cron expression and an IANA timezone) into
// queued runs: Parse and Schedule.Next compute when a config is due, and Scheduler is
// the leader-elected loop that queues due runs through a small Store interface.
//
// # Schedules
//
// A schedule is a standard 5-field cron expression (minute hour day-of-month month
// day-of-week, with lists, ranges, steps, JAN-DEC and SUN-SAT names, 7 as Sunday) or one
// of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, read in an IANA
// timezone. A seconds field and @every are refused: a backup runs at most once a minute.
// An expression that can never fire (0 0 30 2 *) is refused too. When both day fields
// are restricted, a day matches if either matches, as in Vixie cron.
//
// Daylight-saving changes follow the wall clock, and each wall-clock slot runs at most
// once:
//   - Spring forward: a slot inside the skipped hour (02:30 on the night clocks jump
//     from 02:00 to 03:00) runs once, at the first instant after the jump (03:00).
//     Several slots in the gap, and a slot at the end of the gap itself, collapse into
//     that one run. Operators expect a daily backup to run that day, not to be skipped.
//   - Fall back: a slot in the repeated hour runs on its first occurrence only, so a
//     daily 01:30 job runs once; an hourly job has no run during the second pass.
//
// # Dispatch
//
// A config is due when Next(base) <= now, where base is the later of its last scheduled
// slot and the time its current schedule took effect (Config.Since): a new or changed
// schedule, or a re-enabled config, counts from then, never from the past. Missed slots
// (server down, agent offline) collapse into one run flagged late, carrying the first
// slot it stands for. A config with a queued or running run gets no second one: the slot
// is recorded as skipped, and a run still waiting for its agent is flagged late.
//
// Only the leader dispatches: PostgresLeader holds a PostgreSQL advisory lock on a
// dedicated connection, AlwaysLeader is for SQLite (one server). The store's
// compare-and-set on the last scheduled slot, and its one-active-run uniqueness, keep a
// slot from being dispatched twice even if two schedulers briefly both think they lead.
package scheduler
