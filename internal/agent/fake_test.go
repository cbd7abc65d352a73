package agent

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
)

// fakeServer is a small in-memory agent API plus an S3-like object store behind
// pre-signed URLs, with switches for fault injection.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	key        string
	revoked    bool
	configs    map[string]agentproto.Config
	runs       map[string]*fakeRun
	runSeq     int
	objects    map[string][]byte
	uploads    map[string]map[int][]byte // key → part → bytes
	catalogs   map[string][]byte
	commands   []agentproto.Command
	heartbeats int
	hosts      []agentproto.Host
	logs       []agentproto.LogEntry
	progress   map[string]int
	cancel     map[string]bool
	restores   []agentproto.RestoreCompleteRequest
	// restore progress reports; cancelRestore answers "cancel" to them; with
	// noRestoreProgress the endpoint does not exist (an older server).
	restoreProgress   []agentproto.RestoreProgressRequest
	cancelRestore     map[string]bool
	noRestoreProgress bool
	estimates         []agentproto.EstimateCompleteRequest
	hbReqs            []agentproto.HeartbeatRequest
	// holdDownload, when set, holds download requests until it is closed (a long
	// restore).
	holdDownload chan struct{}
	partsCalls   int
	urlTTL       time.Duration
	nextHB       int
	// deltas: the server offers delta manifests (BackupStartResponse.Deltas).
	deltas bool

	// faults
	down       bool // every API request: connection closed without an answer
	fail503    int  // next N API requests answer 503
	expireNext int  // next N part URLs are issued already expired
	open       map[string]int
	maxOpen    map[string]int // most runs open at once per config
}

type fakeRun struct {
	id, configID, archiveKey, manifestKey, previous string
	status                                          string
	full                                            bool
	started                                         time.Time
	complete                                        agentproto.BackupCompleteRequest
}

const testKey = agentproto.KeyPrefix + "testkey"

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, key: testKey, configs: map[string]agentproto.Config{}, runs: map[string]*fakeRun{},
		objects: map[string][]byte{}, uploads: map[string]map[int][]byte{}, catalogs: map[string][]byte{},
		progress: map[string]int{}, cancel: map[string]bool{}, urlTTL: time.Hour, open: map[string]int{}, maxOpen: map[string]int{}, nextHB: 1}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) client(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient(ClientOptions{Server: f.srv.URL, Key: testKey, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	var b agentproto.ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/s3/") {
		f.object(w, r)
		return
	}
	if r.URL.Path == agentproto.PathDownload {
		f.mu.Lock()
		hold := f.holdDownload
		f.mu.Unlock()
		if hold != nil {
			<-hold
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	}
	if f.fail503 > 0 {
		f.fail503--
		apiError(w, http.StatusServiceUnavailable, "unavailable", "restarting")
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/agent/") {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<h1>not found</h1>")
		return
	}
	if r.Header.Get(agentproto.HeaderProtocol) != "1" {
		apiError(w, http.StatusUpgradeRequired, "protocol", "unsupported protocol")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.key || f.revoked {
		apiError(w, http.StatusUnauthorized, "unauthorized", "invalid or revoked agent key")
		return
	}
	decode := func(v any) bool {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			apiError(w, http.StatusBadRequest, "invalid", err.Error())
			return false
		}
		return true
	}
	switch r.URL.Path {
	case agentproto.PathRegister:
		var req agentproto.RegisterRequest
		if decode(&req) {
			f.hosts = append(f.hosts, req.Host)
			writeJSON(w, 200, agentproto.RegisterResponse{AgentID: "agent-1", Name: "laptop", UserID: "user-1"})
		}
	case agentproto.PathHeartbeat:
		var req agentproto.HeartbeatRequest
		if decode(&req) {
			f.heartbeats++
			f.hosts = append(f.hosts, req.Host)
			f.hbReqs = append(f.hbReqs, req)
			cmds := f.commands
			f.commands = nil
			writeJSON(w, 200, agentproto.HeartbeatResponse{ServerTime: time.Now(), Commands: cmds, NextHeartbeatSeconds: f.nextHB})
		}
	case agentproto.PathConfigs:
		var out agentproto.ConfigsResponse
		for _, c := range f.configs {
			out.Configs = append(out.Configs, c)
		}
		writeJSON(w, 200, out)
	case agentproto.PathBackupStart:
		var req agentproto.BackupStartRequest
		if decode(&req) {
			f.start(w, req)
		}
	case agentproto.PathBackupParts:
		var req agentproto.PartsRequest
		if decode(&req) {
			run := f.runs[req.RunID]
			if run == nil || run.status != agentproto.StatusRunning {
				apiError(w, 404, "not_found", "no such open run")
				return
			}
			f.partsCalls++
			key := run.archiveKey
			if req.Object == agentproto.ObjectManifest {
				key = run.manifestKey
			}
			var out agentproto.PartsResponse
			for _, n := range req.PartNumbers {
				out.Parts = append(out.Parts, f.partURL(key, req.Object, n))
			}
			writeJSON(w, 200, out)
		}
	case agentproto.PathBackupProgress:
		var req agentproto.Progress
		if decode(&req) {
			f.progress[req.RunID]++
			writeJSON(w, 200, agentproto.ProgressResponse{Cancel: f.cancel[req.RunID]})
		}
	case agentproto.PathBackupComplete:
		var req agentproto.BackupCompleteRequest
		if decode(&req) {
			f.complete(w, req)
		}
	case agentproto.PathBackupCatalog:
		id := r.URL.Query().Get("runId")
		if r.Method == http.MethodPut {
			var b bytes.Buffer
			b.ReadFrom(r.Body)
			f.catalogs[id] = b.Bytes()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		c, ok := f.catalogs[id]
		if !ok {
			apiError(w, 404, "not_found", "no catalog")
			return
		}
		w.Header().Set("Content-Type", "application/zstd")
		w.Write(c)
	case agentproto.PathLog:
		var req agentproto.LogRequest
		if decode(&req) {
			f.logs = append(f.logs, req.Entries...)
			w.WriteHeader(http.StatusNoContent)
		}
	case agentproto.PathDownload:
		f.download(w, r)
	case agentproto.PathRestoreDone:
		var req agentproto.RestoreCompleteRequest
		if decode(&req) {
			f.restores = append(f.restores, req)
			w.WriteHeader(http.StatusNoContent)
		}
	case agentproto.PathRestoreProgress:
		if f.noRestoreProgress {
			apiError(w, 404, "not_found", "no agent endpoint "+r.URL.Path)
			return
		}
		var req agentproto.RestoreProgressRequest
		if decode(&req) {
			f.restoreProgress = append(f.restoreProgress, req)
			writeJSON(w, 200, agentproto.RestoreProgressResponse{Cancel: f.cancelRestore[req.RestoreID]})
		}
	case agentproto.PathEstimateDone:
		var req agentproto.EstimateCompleteRequest
		if decode(&req) {
			f.estimates = append(f.estimates, req)
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		apiError(w, 404, "not_found", "no such endpoint")
	}
}

func (f *fakeServer) partURL(key, object string, n int) agentproto.PartURL {
	exp := time.Now().Add(f.urlTTL)
	if f.expireNext > 0 {
		f.expireNext--
		exp = time.Now().Add(-time.Second)
	}
	return agentproto.PartURL{Object: object, PartNumber: n, Method: http.MethodPut, ExpiresAt: exp,
		URL: fmt.Sprintf("%s/s3/%s?partNumber=%d&expires=%d", f.srv.URL, key, n, exp.UnixNano())}
}

func (f *fakeServer) start(w http.ResponseWriter, req agentproto.BackupStartRequest) {
	cfg, ok := f.configs[req.ConfigID]
	if !ok {
		apiError(w, 404, "not_found", "no such config")
		return
	}
	if f.open[req.ConfigID] > 0 {
		apiError(w, 409, "conflict", "a run of this config is in progress")
		return
	}
	f.runSeq++
	id := req.RunID
	if id == "" {
		id = fmt.Sprintf("run-%d", f.runSeq)
	}
	run := &fakeRun{id: id, configID: req.ConfigID, status: agentproto.StatusRunning, started: time.Now(), full: true,
		archiveKey: fmt.Sprintf("users/user-1/agents/agent-1/configs/%s/backup-%03d.tar.zst", req.ConfigID, f.runSeq)}
	run.manifestKey = run.archiveKey + ".manifest"
	var prev *fakeRun
	for _, r := range f.runs {
		if r.configID == req.ConfigID && r.status == agentproto.StatusCompleted && (prev == nil || r.started.After(prev.started)) {
			prev = r
		}
	}
	resp := agentproto.BackupStartResponse{RunID: id, ArchiveKey: run.archiveKey, ManifestKey: run.manifestKey, Full: true, Config: cfg, Deltas: f.deltas}
	if prev != nil && cfg.Options.Type == "incremental" {
		run.full, run.previous = false, prev.id
		resp.Full, resp.Previous = false, &agentproto.PreviousRun{RunID: prev.id}
	}
	f.runs[id] = run
	f.open[req.ConfigID]++
	f.maxOpen[req.ConfigID] = max(f.maxOpen[req.ConfigID], f.open[req.ConfigID])
	resp.Parts = []agentproto.PartURL{f.partURL(run.archiveKey, agentproto.ObjectArchive, 1)}
	writeJSON(w, 200, resp)
}

func (f *fakeServer) complete(w http.ResponseWriter, req agentproto.BackupCompleteRequest) {
	run := f.runs[req.RunID]
	if run == nil {
		apiError(w, 404, "not_found", "no such run")
		return
	}
	if run.status != agentproto.StatusRunning {
		writeJSON(w, 200, agentproto.BackupCompleteResponse{RunID: run.id, Status: run.status})
		return
	}
	f.open[run.configID]--
	run.complete = req
	run.status = req.Status
	assemble := func(key string, o *agentproto.UploadedObject) error {
		if o == nil {
			return fmt.Errorf("no account of %s", key)
		}
		var b []byte
		for i, p := range o.Parts {
			data, ok := f.uploads[key][p.PartNumber]
			if !ok || p.PartNumber != i+1 {
				return fmt.Errorf("part %d of %s missing", p.PartNumber, key)
			}
			if etag(data) != p.ETag {
				return fmt.Errorf("part %d of %s: etag %s, want %s", p.PartNumber, key, p.ETag, etag(data))
			}
			b = append(b, data...)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != o.SHA256 || int64(len(b)) != o.Size {
			return fmt.Errorf("%s: checksum mismatch", key)
		}
		f.objects[key] = b
		return nil
	}
	if req.Status == agentproto.StatusCompleted {
		if f.deltas && !run.full && req.Archive == nil {
			// an unchanged incremental: no archive
		} else if err := assemble(run.archiveKey, req.Archive); err != nil {
			run.status = agentproto.StatusFailed
			apiError(w, 400, "invalid", err.Error())
			return
		}
		if err := assemble(run.manifestKey, req.Manifest); err != nil {
			run.status = agentproto.StatusFailed
			apiError(w, 400, "invalid", err.Error())
			return
		}
	}
	delete(f.uploads, run.archiveKey) // completed or aborted: the parts are gone
	delete(f.uploads, run.manifestKey)
	writeJSON(w, 200, agentproto.BackupCompleteResponse{RunID: run.id, Status: run.status, S3Path: run.archiveKey})
}

func (f *fakeServer) download(w http.ResponseWriter, r *http.Request) {
	run := f.runs[r.URL.Query().Get("runId")]
	if run == nil || run.status != agentproto.StatusCompleted {
		apiError(w, 404, "not_found", "no such run")
		return
	}
	var chain []agentproto.DownloadArchive
	for x := run; x != nil; x = f.runs[x.previous] {
		exp := time.Now().Add(f.urlTTL)
		var archive agentproto.UploadedObject // none for an unchanged delta run
		if x.complete.Archive != nil {
			archive = *x.complete.Archive
		}
		chain = append([]agentproto.DownloadArchive{{RunID: x.id, ExpiresAt: exp,
			ArchiveURL:    fmt.Sprintf("%s/s3/%s?expires=%d", f.srv.URL, x.archiveKey, exp.UnixNano()),
			ManifestURL:   fmt.Sprintf("%s/s3/%s?expires=%d", f.srv.URL, x.manifestKey, exp.UnixNano()),
			ArchiveSHA256: archive.SHA256, ArchiveSize: archive.Size,
			ManifestSHA256: x.complete.Manifest.SHA256, ManifestSize: x.complete.Manifest.Size,
			Encrypted: f.configs[x.configID].Options.Encryption}}, chain...)
		if x.full {
			break
		}
	}
	writeJSON(w, 200, agentproto.DownloadResponse{Chain: chain})
}

func etag(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// object is the S3 side: PUT parts and GET objects at pre-signed URLs.
func (f *fakeServer) object(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/s3/")
	exp, _ := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	if time.Now().UnixNano() > exp {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		n, _ := strconv.Atoi(r.URL.Query().Get("partNumber"))
		var b bytes.Buffer
		if _, err := b.ReadFrom(r.Body); err != nil {
			return
		}
		if f.uploads[key] == nil {
			f.uploads[key] = map[int][]byte{}
		}
		f.uploads[key][n] = b.Bytes()
		w.Header().Set("ETag", etag(b.Bytes()))
	case http.MethodGet:
		b, ok := f.objects[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeServer) run(id string) fakeRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.runs[id]; r != nil {
		return *r
	}
	return fakeRun{}
}

func (f *fakeServer) set(fn func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}
