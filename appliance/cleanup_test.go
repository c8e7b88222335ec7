package appliance

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/certstore"
	"relaybox/shell"
)

// runScript runs a shell script in a new session of a and returns stderr.
func runScript(a *Appliance, script string) string {
	var out, errOut bytes.Buffer
	opts := a.Session("admin")
	opts.In, opts.Out, opts.Err = strings.NewReader(script), &out, &errOut
	shell.Run(context.Background(), opts)
	return errOut.String()
}

// certKey is the key reference of a certificate of the committed configuration.
func certKey(t *testing.T, a *Appliance, name string) string {
	t.Helper()
	c := a.Store.Current().Certificate(name)
	require.NotNil(t, c, name)
	return c.Key
}

func stop(t *testing.T, a *Appliance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Close(ctx))
}

func TestStartRemovesLeftoversAndKeepsReferencedKeys(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir, &bytes.Buffer{})
	a := start(t, opts)
	demo := certKey(t, a, "Demo")
	demoTwin := a.Store.Current().Certificate("Demo").ECDSAKey
	require.NotEmpty(t, demoTwin, "the Demo certificate has its ECDSA twin")
	// B is committed, then deleted: only history version 2 names its key.
	require.Empty(t, runScript(a, "certconfig new B cn=b.example.test c=US\ncommit add B\n"))
	historyOnly := certKey(t, a, "B")
	require.Empty(t, runScript(a, "certconfig delete B\ncommit drop B\n"))
	// C is made and never committed: nothing names its key.
	require.Contains(t, runScript(a, "certconfig new C cn=c.example.test c=US\n"), "uncommitted changes")
	// E is named only by a saved configuration in configs/.
	e, err := a.Keys.SelfSigned(certstore.Request{Name: "E", CommonName: "e.example.test", Days: 1, KeyType: "ecdsa", KeyBits: 256})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "configs", "saved.yaml"), []byte("certificates:\n  - name: E\n    key: "+e.Key+"\n"), 0o600))
	stop(t, a)

	refs, err := a.Keys.Refs()
	require.NoError(t, err)
	require.Len(t, refs, 5, "Demo and its twin, B, C and E")
	var orphan string
	for _, r := range refs {
		if r != demo && r != demoTwin && r != historyOnly && r != e.Key {
			orphan = r
		}
	}
	require.NotEmpty(t, orphan)
	// What a kill between create and rename leaves, and files that only look alike.
	temps := []string{".config.yaml.tmp-0123456789ab", "history/.v00000004.yaml.tmp-abcdefabcdef",
		"keys/." + orphan + ".pem.tmp-00112233aabb", "configs/.saved.yaml.tmp-445566778899", "delivery/.7.json.tmp-aaaaaaaaaaaa"}
	kept := []string{"notes.tmp-0123456789ab", ".config.yaml.tmp-NOTHEX", "keys/README", "queue/.x.tmp-0123456789ab"}
	for _, f := range append(append([]string{}, temps...), kept...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600))
	}

	var log bytes.Buffer
	opts.ErrorLog = &log
	a = start(t, opts)
	for _, f := range temps {
		assert.NoFileExists(t, filepath.Join(dir, f))
		assert.Contains(t, log.String(), "relaybox: removed "+filepath.Join(dir, f)+", a temporary file left by an interrupted write\n")
	}
	for _, f := range kept {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.NoFileExists(t, a.Keys.Path(orphan))
	assert.Equal(t, 1, strings.Count(log.String(), "relaybox: removed the private key "+a.Keys.Path(orphan)+": no configuration uses it"), log.String())
	assert.Equal(t, 1, strings.Count(log.String(), "private key"), "only the orphan is removed:\n%s", log.String())
	for _, ref := range []string{demo, demoTwin, historyOnly, e.Key} {
		assert.FileExists(t, a.Keys.Path(ref))
	}
	// rollbackconfig still finds the key of the version only the history keeps.
	v2, err := a.Store.Version(2)
	require.NoError(t, err)
	_, err = a.Keys.TLSCertificate(*v2.Certificate("B"))
	require.NoError(t, err)
	stop(t, a)

	log.Reset()
	start(t, opts)
	assert.Empty(t, log.String(), "nothing is left to remove on the next start")
}

func TestUnreadableFileKeepsEveryKey(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, dir, &bytes.Buffer{})
	a := start(t, opts)
	_, err := a.Keys.SelfSigned(certstore.Request{Name: "O", CommonName: "o.example.test", Days: 1, KeyType: "ecdsa", KeyBits: 256})
	require.NoError(t, err)
	stop(t, a)
	// A saved file that cannot be read might name any key.
	require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "configs", "broken.yaml")))

	var log bytes.Buffer
	opts.ErrorLog = &log
	a = start(t, opts)
	refs, err := a.Keys.Refs()
	require.NoError(t, err)
	assert.Len(t, refs, 3, "Demo, its twin and the orphan are all kept")
	assert.Contains(t, log.String(), "relaybox: every private key was kept: reading "+filepath.Join(dir, "configs", "broken.yaml")+" to see which private keys it uses")
}
