package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSectionsCoverConfig: the merge sections are derived from Config; only
// the commit metadata and the schema are left out, and each other field is
// in exactly one section.
func TestSectionsCoverConfig(t *testing.T) {
	for _, lf := range leaves(reflect.TypeFor[Config](), nil, "Config") {
		var in []string
		for _, sec := range sections {
			if len(sec.index) <= len(lf.index) && slices.Equal(sec.index, lf.index[:len(sec.index)]) {
				in = append(in, sec.name)
			}
		}
		if metadata[lf.path] || lf.path == schemaField {
			assert.Empty(t, in, "%s is commit metadata, not a merge section", lf.path)
			continue
		}
		assert.Len(t, in, 1, "%s must be in exactly one merge section (tag it section:\"…\" in Config)", lf.path)
	}
	names := SectionNames()
	assert.Equal(t, len(names), len(slices.Compact(slices.Sorted(slices.Values(names)))), "section names must be unique: %v", names)
	assert.Contains(t, names, "sslconfig PEER_CERT_X509", "SSL's fields are sections of their own")
}

// TestMergeCarriesEveryField: one session changes one field, another commits
// a change elsewhere first; the merge must keep both, for every field.
func TestMergeCarriesEveryField(t *testing.T) {
	base := filled(1)
	for _, lf := range leaves(reflect.TypeFor[Config](), nil, "Config") {
		if metadata[lf.path] || lf.path == schemaField {
			continue
		}
		t.Run(lf.path, func(t *testing.T) {
			mine := base.Clone()
			lf.get(mine).Set(lf.get(filled(2)))
			theirs := base.Clone()
			other := "other.example.test"
			if lf.path == "Config.Hostname" {
				theirs.Users[0].Name = other
			} else {
				theirs.Hostname = other
			}
			merged, err := merge(base, mine, theirs)
			require.NoError(t, err)
			assert.Equal(t, lf.get(mine).Interface(), lf.get(merged).Interface(), "the merge dropped this session's change of %s", lf.path)
			if lf.path == "Config.Hostname" {
				assert.Equal(t, other, merged.Users[0].Name)
			} else {
				assert.Equal(t, other, merged.Hostname, "the merge dropped the other commit's change")
			}

			_, err = merge(base, mine, mine)
			require.Error(t, err, "two changes of %s must clash", lf.path)
			assert.Contains(t, err.Error(), ChangedSections(base, mine)[0])
		})
	}
}

// TestArchitectureListsSections: docs/architecture.md's commit pipeline
// names the merge sections as they are derived.
func TestArchitectureListsSections(t *testing.T) {
	doc, err := os.ReadFile("../docs/architecture.md")
	require.NoError(t, err)
	list := "`" + strings.Join(SectionNames(), "`, `") + "`"
	assert.True(t, strings.Contains(strings.Join(strings.Fields(string(doc)), " "), list),
		"docs/architecture.md (The commit pipeline, Merge) must list the sections: %s", list)
}
