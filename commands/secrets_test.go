package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBatchPassphrasesNeverShown runs certconfig's batch forms with
// passphrases through the real shell in script mode: the transcript and the
// errors show "****" in their place, whether the line works or fails.
func TestBatchPassphrasesNeverShown(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "certconfig new Orig cn=orig.example.test c=US\ncertconfig export Orig out.p12 Export-Secret-1\ncommit orig\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "box.example.test> certconfig export Orig out.p12 ****\n")
	assert.NotContains(t, r.out+r.err, "Export-Secret-1")
	_, err := os.Stat(filepath.Join(a.Store.Dir(), "configs", "out.p12"))
	require.NoError(t, err, "the export ran with the real passphrase")

	tests := []struct {
		name, script, secret string
		code                 int
		out, err             string
	}{
		{name: "import works", script: "certconfig import Imp out.p12 Export-Secret-1\ncommit imported\n", secret: "Export-Secret-1",
			out: "box.example.test> certconfig import Imp out.p12 ****\n"},
		{name: "wrong passphrase", script: "certconfig import Bad out.p12 Wrong-Secret-2\n", secret: "Wrong-Secret-2", code: 1,
			out: "box.example.test> certconfig import Bad out.p12 ****\n", err: "line 1: "},
		{name: "missing file", script: "certconfig import Bad nothere.p12 Missing-Secret-3\n", secret: "Missing-Secret-3", code: 1,
			err: `line 1: Error: the file "nothere.p12" does not exist`},
		{name: "quoted passphrase with a blank", script: "certconfig export Orig two.p12 \"Two Words-4\"\n", secret: "Words-4",
			out: "box.example.test> certconfig export Orig two.p12 ****\n"},
		{name: "passphrase split without quotes", script: "certconfig export Orig three.p12 Split-5 Secret-6\n", secret: "Secret-6", code: 1,
			out: "box.example.test> certconfig export Orig three.p12 **** ****\n", err: "line 1: Invalid arguments when processing: certconfig"},
		{name: "unterminated quote", script: "certconfig import Bad out.p12 \"Open-Secret-7\n", secret: "Open-Secret-7", code: 1,
			err: `line 1: unterminated " quote in "certconfig import Bad out.p12 ****": close it`},
		{name: "existing name", script: "certconfig import Orig out.p12 Export-Secret-1\n", secret: "Export-Secret-1", code: 1,
			err: `line 1: Certificate profile "Orig" already exists`},
		{name: "the mask is not a passphrase", script: "certconfig export Orig masked.p12 ****\n", code: 1,
			err: "line 1: **** is what the shell shows in place of a passphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := script(a, tt.script)
			assert.Equal(t, tt.code, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
			assert.Contains(t, r.out, tt.out)
			assert.Contains(t, r.err, tt.err)
			if tt.secret != "" {
				assert.NotContains(t, r.out+r.err, tt.secret)
			}
		})
	}
	_, err = os.Stat(filepath.Join(a.Store.Dir(), "configs", "masked.p12"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no file is exported with the mask as its passphrase")
	assert.NotNil(t, a.Store.Current().Certificate("Imp"), "the import with the real passphrase was committed")
}

// TestPassphraseDialogStillHidden: the dialog reads the passphrase at its
// own prompt, which shows neither the answer nor a mask.
func TestPassphraseDialogStillHidden(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "certconfig new Orig cn=orig.example.test c=US\ncertconfig export Orig out.p12 Export-Secret-1\ncommit orig\n")
	require.Equal(t, 0, r.code, r.err)
	r = script(a, "certconfig\ncertificate\nimport\nDlg\nout.p12\nExport-Secret-1\n\n\ncommit dialog\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `Certificate "Dlg" imported.`)
	assert.Contains(t, r.out, "Enter passphrase: \n")
	assert.NotContains(t, r.out+r.err, "Export-Secret-1")
	assert.Equal(t, 1, strings.Count(r.out, "Changes committed:"))
}
