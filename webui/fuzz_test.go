package webui

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"relaybox/config"
)

// FuzzSSLBody feeds PUT /api/v1/ssl bodies to the API's decoder and the
// edit it makes: nothing panics, a refused body (400 or 422) leaves the
// pending copy as it was, and an accepted one leaves valid SSL settings.
func FuzzSSLBody(f *testing.F) {
	base := config.Defaults(config.FirstStart{Hostname: "box.example.test", AdminHash: "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"})
	good, _ := json.Marshal(sslToJSON(base.SSL))
	for _, seed := range []string{string(good), `{"gui": `, `{}`, `{"gui": {"methods": ["TLSv1.3", "TLSv1.1"]}}`, `{"x": 1}`, `[]`, `null`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := base.Clone()
		w := httptest.NewRecorder()
		r := httptest.NewRequest("PUT", "/api/v1/ssl", bytes.NewReader(body))
		var in sslJSON
		if !decode(w, r, &in) {
			if w.Code != 400 {
				t.Fatalf("a body the decoder refuses gets %d, want 400", w.Code)
			}
			return
		}
		if err := applySSL(c, in); err != nil {
			if !config.SameSettings(base, c) {
				t.Fatalf("a refused edit changed the pending copy: %v", err)
			}
			return
		}
		for _, svc := range sslServices {
			if err := config.ServiceProblems("ssl."+svc.Word, *svc.get(&c.SSL)); err != nil {
				t.Fatalf("an accepted edit left invalid SSL settings: %v", err)
			}
		}
	})
}
