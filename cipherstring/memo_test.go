package cipherstring

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The memo returns what an evaluation returns, and a caller changing its
// result changes nobody else's.
func TestParseMemoIsInvisible(t *testing.T) {
	for _, s := range []string{"HIGH:!aNULL", "DHE-RSA-AES256-SHA:AES128", "NOPE", "ECDHE+AESGCM:@SECLEVEL=2", ""} {
		t.Run(s, func(t *testing.T) {
			want, wantErr := evaluate(s)
			for range 3 {
				got, err := Parse(s)
				assert.Equal(t, wantErr, err)
				assert.Equal(t, want, got)
				if len(got.Suites) > 0 {
					got.Suites[0].Name = "MANGLED"
				}
				got.Warnings = append(got.Warnings, "mangled")
				if len(got.Warnings) > 1 {
					got.Warnings[0] = "mangled"
				}
			}
		})
	}
}

// More distinct strings than the memo holds still evaluate correctly.
func TestParseMemoBounded(t *testing.T) {
	want, err := evaluate("AES128")
	require.NoError(t, err)
	for i := range 3 * memoSize {
		s := "AES128" + strings.Repeat(":AES128", i) // distinct strings, one selection
		got, err := Parse(s)
		require.NoError(t, err)
		assert.Equal(t, want.Suites, got.Suites, s)
	}
	memo.mu.Lock()
	defer memo.mu.Unlock()
	assert.LessOrEqual(t, len(memo.m), memoSize)
}
