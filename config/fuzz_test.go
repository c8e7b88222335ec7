package config

import (
	"testing"
)

// FuzzDecode feeds arbitrary documents to the loader: it must never panic,
// and whatever it accepts and validates must survive an encode/decode round trip.
func FuzzDecode(f *testing.F) {
	data, err := testDefaults().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("schema: 1\n"))
	f.Add([]byte("schema: 1\nssl:\n  gui:\n    methods: [TLSv1.0, TLSv1.3]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Decode(doc)
		if err != nil {
			return
		}
		if Validate(c) != nil {
			return
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("encoding a valid config: %v", err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("re-reading an encoded valid config: %v\n%s", err, out)
		}
		if !SameSettings(c, back) {
			t.Fatalf("round trip changed the settings")
		}
	})
}
