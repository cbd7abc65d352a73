package agentapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/server/servertest"
)

// TestRestoreProtocol drives the agent side by hand, through the assembled server
// (servertest): a queued restore is handed out
// by one heartbeat only (and is then running), a cancel of a running restore reaches
// the agent as a cancel of the restore's id, the agent's report records the outcome
// once, and no agent can report another agent's restore.
func TestRestoreProtocol(t *testing.T) {
	servertest.Dialects(t, func(t *testing.T, db string) {
		e := servertest.StartRestoreEnv(t, db)
		a := e.Alice
		heartbeat := func(key string) []any {
			t.Helper()
			r := a.AgentCall(agentproto.PathHeartbeat, key, agentproto.HeartbeatRequest{Host: agentproto.Host{Hostname: "h"}})
			servertest.Want(t, r, http.StatusOK)
			cmds, _ := r.Body["commands"].([]any)
			return cmds
		}
		r := a.JSON("POST", "/api/restores", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": "/srv/r",
			"paths": []string{e.Abs("docs"), e.Abs("docs/a.txt")}, "overwrite": true})
		servertest.Want(t, r, http.StatusCreated)
		id := r.Body["id"].(string)
		if ps := r.Body["paths"].([]any); len(ps) != 1 || ps[0] != e.Abs("docs") {
			t.Errorf("paths below a selected folder are dropped: %v", ps)
		}

		if cmds := heartbeat(e.KeyA); len(cmds) != 0 {
			t.Errorf("agent A is handed B's restore: %v", cmds)
		}
		cmds := heartbeat(e.KeyB)
		if len(cmds) != 1 {
			t.Fatalf("agent B's commands: %v", cmds)
		}
		c := cmds[0].(map[string]any)
		spec, _ := c["restore"].(map[string]any)
		if c["type"] != "restore" || spec["restoreId"] != id || spec["runId"] != e.Run2 || spec["targetDir"] != "/srv/r" ||
			spec["overwrite"] != true || spec["unportableNames"] != "rename" || len(spec["paths"].([]any)) != 1 || spec["paths"].([]any)[0] != strings.TrimPrefix(e.Abs("docs"), "/") {
			t.Errorf("restore command: %v", c)
		}
		if cmds := heartbeat(e.KeyB); len(cmds) != 0 {
			t.Errorf("the restore is handed out twice: %v", cmds)
		}
		r = a.JSON("GET", "/api/restores/"+id, nil)
		if r.Body["status"] != "running" || r.Body["startedAt"] == nil {
			t.Errorf("restore after its heartbeat: %s", r.Raw)
		}

		// Progress while it runs: in the API and on its page.
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreProgress, e.KeyB, agentproto.RestoreProgressRequest{RestoreID: id, FilesWritten: 1234, BytesWritten: 3 << 20}), http.StatusOK)
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreProgress, e.KeyA, agentproto.RestoreProgressRequest{RestoreID: id, FilesWritten: 1}), http.StatusNotFound)
		r = a.JSON("GET", "/api/restores/"+id, nil)
		if r.Body["filesWritten"] != 1234.0 || r.Body["bytesWritten"] != float64(3<<20) {
			t.Errorf("restore after a progress report: %s", r.Raw)
		}
		r = a.Send("GET", "/restores/"+id, "", nil)
		servertest.Want(t, r, http.StatusOK)
		if !strings.Contains(servertest.Visible(r.Raw), "The agent is writing the files: 1234 files, 3.0 MiB so far.") {
			t.Errorf("running restore's page lacks its progress: %s", servertest.Visible(r.Raw))
		}
		// A restore of some paths has no size to reach: its time left is unknown.
		if !strings.Contains(servertest.Visible(r.Raw), "Time left—") {
			t.Errorf("running restore's page lacks its (unknown) time left: %s", servertest.Visible(r.Raw))
		}

		r = a.JSON("POST", "/api/restores/"+id+"/cancel", nil)
		servertest.Want(t, r, http.StatusOK)
		if r.Body["status"] != "running" || r.Body["cancelRequested"] != true {
			t.Errorf("cancel of a running restore: %s", r.Raw)
		}
		cmds = heartbeat(e.KeyB)
		if len(cmds) != 1 || cmds[0].(map[string]any)["type"] != "cancel" || cmds[0].(map[string]any)["runId"] != id {
			t.Errorf("cancel command: %v", cmds)
		}

		report := agentproto.RestoreCompleteRequest{RestoreID: id, Status: "cancelled", Error: "cancelled: by the user", FilesWritten: 2, BytesWritten: 20}
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreDone, e.KeyA, report), http.StatusNotFound) // not A's
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreDone, e.KeyB, agentproto.RestoreCompleteRequest{RestoreID: id, Status: "done"}), http.StatusBadRequest)
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreDone, e.KeyB, report), http.StatusNoContent)
		report.Status = "completed"
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreDone, e.KeyB, report), http.StatusNoContent) // a repeat changes nothing
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreDone, e.KeyB, agentproto.RestoreCompleteRequest{RestoreID: "0193aaaa-0000-7000-8000-000000000000", Status: "completed"}), http.StatusNotFound)
		r = a.JSON("GET", "/api/restores/"+id, nil)
		if r.Body["status"] != "cancelled" || r.Body["filesWritten"] != 2.0 || r.Body["error"] != "cancelled: by the user" || r.Body["finishedAt"] == nil {
			t.Errorf("restore after the agent's report: %s", r.Raw)
		}
		if cmds := heartbeat(e.KeyB); len(cmds) != 0 {
			t.Errorf("commands after the restore finished: %v", cmds)
		}
		servertest.Want(t, a.JSON("POST", "/api/restores/"+id+"/cancel", nil), http.StatusConflict)

		// A restore onto Windows that renamed and skipped names it cannot hold:
		// completed with warnings, each one listed.
		// The user chose to skip them: the choice is kept and handed to the agent.
		r = a.JSON("POST", "/api/restores", map[string]any{"runId": e.Run2, "agentId": e.AgentB, "targetDir": `C:\restore`,
			"unportableNames": "skip"})
		servertest.Want(t, r, http.StatusCreated)
		id = r.Body["id"].(string)
		if r.Body["unportableNames"] != "skip" {
			t.Errorf("restore created to skip unportable names: %s", r.Raw)
		}
		if r = a.JSON("GET", "/api/restores/"+id, nil); r.Body["unportableNames"] != "skip" {
			t.Errorf("restore to skip unportable names, read back: %s", r.Raw)
		}
		if pg := servertest.Visible(a.Send("GET", "/restores/"+id, "", nil).Raw); !strings.Contains(pg, "Names the target cannot holdSkipped with a warning") {
			t.Errorf("the page of a restore that skips unportable names: %s", pg)
		}
		cmds = heartbeat(e.KeyB)
		if len(cmds) != 1 {
			t.Fatalf("agent B's commands: %v", cmds)
		}
		if spec, _ := cmds[0].(map[string]any)["restore"].(map[string]any); spec["unportableNames"] != "skip" {
			t.Errorf("restore command of a restore that skips unportable names: %v", cmds[0])
		}
		servertest.Want(t, a.AgentCall(agentproto.PathRestoreDone, e.KeyB, agentproto.RestoreCompleteRequest{RestoreID: id, Status: "completed",
			FilesWritten: 9, RenamedCount: 2, SkippedCount: 1,
			Renamed: []agentproto.RenamedFile{{Path: "home/a:b", RestoredAs: "home/a%3Ab"}, {Path: "home/CON", RestoredAs: "home/CO%4E"}},
			Skipped: []agentproto.FileError{{Path: "home/dev", Message: "device file"}}}), http.StatusNoContent)
		r = a.JSON("GET", "/api/restores/"+id, nil)
		warnings, _ := r.Body["warnings"].(string)
		if r.Body["status"] != "completed" || r.Body["error"] != nil || !strings.Contains(warnings, `"home/a:b" as "home/a%3Ab"`) ||
			!strings.Contains(warnings, `"home/CON" as "home/CO%4E"`) || !strings.Contains(warnings, `1 entries were skipped: "home/dev" (device file)`) {
			t.Errorf("restore that renamed names: %s", r.Raw)
		}
		if pg := servertest.Visible(a.Send("GET", "/restores/"+id, "", nil).Raw); !strings.Contains(pg, "Completed with warnings") || !strings.Contains(pg, "home/a%3Ab") {
			t.Errorf("the page of a restore that renamed names: %s", pg)
		}
	})
}
