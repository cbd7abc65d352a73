// Package retention plans which backup runs of one config expire: given the runs, a
// policy and the time, Plan says which to keep (and why) and which to delete (with
// their object keys). It reads and deletes nothing itself.
//
// The policy works like restic's forget. Each non-zero rule keeps completed runs;
// a run is kept if any rule keeps it:
//   - KeepLast n: the n newest completed runs.
//   - WithinDays n: completed runs at or after now minus n calendar days.
//   - KeepDaily/KeepWeekly/KeepMonthly n: for each of the n most recent days (ISO
//     weeks, months) that have a completed run, the newest run of that period.
//     Periods are calendar periods in Policy.Location (the config's timezone), and
//     only periods with runs count, so a machine that was off for a week keeps its
//     n daily backups rather than n days' worth.
//
// And, whatever the rules say:
//   - A policy with every rule zero keeps everything: no policy is not "delete all".
//   - The newest completed run is always kept.
//   - Queued and running runs are kept, and so is what they build on.
//   - A kept run keeps every run it depends on: an incremental needs each earlier
//     run of its chain back to the full backup, because its manifest names which
//     archive of the chain holds each file. So a chain is only ever deleted as a
//     whole tail; a full stays while any incremental on it stays.
//   - Failed and cancelled runs older than the newest completed run are deleted
//     (their objects may not exist; deleting their keys anyway is harmless). Newer
//     ones are kept: they are the story of why the last backups failed.
//
// Deletions are ordered so that a run comes before any run it depends on: a
// retention pass stopped half-way never leaves a kept-looking run with a broken chain.
package retention
