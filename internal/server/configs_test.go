package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentproto"
)

// TestConfigsReachTheAgent: a configuration saved through the API is what the agent
// API hands the agent, with its options.
func TestConfigsReachTheAgent(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		ada := e.Client()
		ada.Register("ada@example.com")
		agentID, key, _ := ada.CreateAgent("ada-laptop")
		id, _ := age.GenerateX25519Identity()
		body := with(goodConfig(agentID), "options.compressionLevel", 5, "options.encryptionMode", "age",
			"options.recipients", []string{id.Recipient().String()}, "options.bandwidth", 1000, "options.fullEvery", 10,
			"options.onError", "fail", "options.hooks", map[string]any{"pre": "echo pre", "post": "echo post", "timeoutSeconds": 60})
		r := ada.JSON("POST", "/api/configs", body)
		want(t, r, http.StatusCreated)
		cid := r.Body["id"].(string)

		r = ada.Send("GET", agentproto.PathConfigs, "", nil, "Authorization", "Bearer "+key, agentproto.HeaderProtocol, "1")
		want(t, r, http.StatusOK)
		list, _ := r.Body["configs"].([]any)
		if len(list) != 1 {
			t.Fatalf("agent configs: %s", r.Raw)
		}
		c := list[0].(map[string]any)
		o := c["options"].(map[string]any)
		if c["id"] != cid || o["type"] != "incremental" || o["compression"] != "zstd" || o["compressionLevel"] != 5.0 ||
			o["encryption"] != true || o["bandwidth"] != 1000.0 || o["onError"] != "fail" {
			t.Errorf("agent sees %s", r.Raw)
		}
		if rs, _ := o["recipients"].([]any); len(rs) != 1 || rs[0] != id.Recipient().String() {
			t.Errorf("recipients: %v", o["recipients"])
		}
		src := c["sources"].([]any)[0].(map[string]any)
		if src["path"] != "/home" || len(src["excludePatterns"].([]any)) != 2 {
			t.Errorf("sources: %v", src)
		}
		if h, _ := c["hooks"].(map[string]any); h["pre"] != "echo pre" || h["post"] != "echo post" || h["timeoutSeconds"] != 60.0 {
			t.Errorf("hooks: %v", c["hooks"])
		}

		// A passphrase, stored sealed, reaches the agent that needs it to encrypt.
		r = ada.JSON("PUT", "/api/configs/"+cid, with(goodConfig(agentID), "options.encryptionMode", "passphrase", "options.passphrase", "a long enough passphrase"))
		want(t, r, http.StatusOK)
		r = ada.Send("GET", agentproto.PathConfigs, "", nil, "Authorization", "Bearer "+key, agentproto.HeaderProtocol, "1")
		want(t, r, http.StatusOK)
		o = r.Body["configs"].([]any)[0].(map[string]any)["options"].(map[string]any)
		if o["passphrase"] != "a long enough passphrase" || o["encryption"] != true {
			t.Errorf("agent sees options %v, want the passphrase", o)
		}
	})
}

// TestGeneratedIdentityShownOnce: the API and the form show a generated identity
// once; the database, the server log and later answers never hold it.
func TestGeneratedIdentityShownOnce(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := startAgents(t, db)
		ada := e.Client()
		ada.Register("ada@example.com")
		agentID, _, _ := ada.CreateAgent("ada-laptop")

		r := ada.JSON("POST", "/api/configs", with(goodConfig(agentID), "options.encryptionMode", "generate"))
		want(t, r, http.StatusCreated)
		secret, _ := r.Body["generatedIdentity"].(string)
		id, err := age.ParseX25519Identity(secret)
		if err != nil {
			t.Fatalf("generatedIdentity %q: %v", secret, err)
		}
		if r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Body["identityWarning"].(string), "cannot be restored") {
			t.Errorf("identity answer: Cache-Control %q, warning %v", r.Header.Get("Cache-Control"), r.Body["identityWarning"])
		}
		o := r.Body["options"].(map[string]any)
		if rs := o["recipients"].([]any); len(rs) != 1 || rs[0] != id.Recipient().String() || o["encryptionMode"] != "age" {
			t.Errorf("saved options: %v", o)
		}
		cid := r.Body["id"].(string)

		// Through the form: the answer to the save is the page with the key.
		form := url.Values{"name": {"Form made"}, "enabled": {"on"}, "executionMode": {"agent"}, "agentId": {agentID},
			"sources[0].path": {"/etc"}, "schedule.cronExpression": {"0 3 * * *"}, "schedule.timezone": {"UTC"},
			"options.type": {"full"}, "options.compression": {"zstd"}, "options.encryptionMode": {"generate"}, "action": {"save"}}
		page := ada.Send("POST", "/configs/new", "application/x-www-form-urlencoded", form.Encode())
		want(t, page, http.StatusOK)
		m := regexp.MustCompile(`AGE-SECRET-KEY-1[0-9A-Z]+`).FindString(page.Raw)
		if m == "" || page.Header.Get("Cache-Control") != "no-store" || !strings.Contains(page.Raw, "data:text/plain;charset=utf-8;base64,") ||
			!strings.Contains(visible(page.Raw), "the backups are lost") {
			t.Fatalf("identity page: Cache-Control %q\n%s", page.Header.Get("Cache-Control"), visible(page.Raw))
		}

		later := []response{
			ada.JSON("GET", "/api/configs", nil), ada.JSON("GET", "/api/configs/"+cid, nil),
			ada.Send("GET", "/configs", "", nil), ada.Send("GET", "/configs/"+cid+"/edit", "", nil),
		}
		raw := e.RawDatabase(t)
		for _, s := range []string{secret, m} {
			if strings.Contains(raw, s) || strings.Contains(raw, strings.ToLower(s)) {
				t.Error("the database holds a generated identity")
			}
			if strings.Contains(e.Log.String(), s) {
				t.Error("the server log holds a generated identity")
			}
			for i, r := range later {
				if strings.Contains(r.Raw, s) {
					t.Errorf("later answer %d shows the identity", i)
				}
			}
		}
		if !strings.Contains(raw, id.Recipient().String()) {
			t.Error("the database does not hold the recipient")
		}
	})
}
