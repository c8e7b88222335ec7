package config

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filled returns a config in which every field, at every depth, holds a
// non-zero value and every slice two elements, all set by reflection: a new
// field is filled without anyone remembering to, so the Clone, Diff and
// merge tests cover it. seed makes the values differ between two calls.
func filled(seed int) *Config {
	c := &Config{}
	n := seed * 1000
	fill(reflect.ValueOf(c).Elem(), "Config", &n)
	return c
}

var timeType = reflect.TypeFor[time.Time]()

// fill sets v and everything in it to non-zero values derived from *n.
func fill(v reflect.Value, path string, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", path, *n))
	case reflect.Bool:
		v.SetBool(*n/1000%2 == 1) // true for odd seeds, false for even ones
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(*n) * time.Minute)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), path+"."+v.Type().Field(i).Name, n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range v.Len() {
			fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), n)
		}
	default:
		panic(fmt.Sprintf("filled: %s is a %s; teach fill (config/clone_test.go) to fill it", path, v.Kind()))
	}
}

// zeroFields lists the paths of zero values (and empty slices) in v.
func zeroFields(v reflect.Value, path string) []string {
	switch {
	case v.Kind() == reflect.Struct && v.Type() != timeType:
		var out []string
		for i := range v.NumField() {
			out = append(out, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return out
	case v.Kind() == reflect.Slice && v.Len() > 0:
		var out []string
		for i := range v.Len() {
			out = append(out, zeroFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case v.Kind() == reflect.Bool:
		return nil // false is as much a value as true; seeds alternate them
	case v.IsZero():
		return []string{path}
	}
	return nil
}

func TestFilledLeavesNoFieldZero(t *testing.T) {
	for _, seed := range []int{1, 2} {
		assert.Empty(t, zeroFields(reflect.ValueOf(filled(seed)).Elem(), "Config"))
	}
	a, b := filled(1), filled(2)
	for _, leaf := range leaves(reflect.TypeFor[Config](), nil, "Config") {
		assert.NotEqual(t, leaf.get(a).Interface(), leaf.get(b).Interface(), "%s: two seeds must give two values", leaf.path)
	}
}

// leaf is a field of Config that is not a struct of fields (a struct inside
// a slice counts as part of its slice).
type leaf struct {
	path  string
	index []int
}

func (l leaf) get(c *Config) reflect.Value { return reflect.ValueOf(c).Elem().FieldByIndex(l.index) }

func leaves(t reflect.Type, parent []int, path string) []leaf {
	var out []leaf
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(append([]int(nil), parent...), i)
		if f.Type.Kind() == reflect.Struct && f.Type != timeType {
			out = append(out, leaves(f.Type, index, path+"."+f.Name)...)
			continue
		}
		out = append(out, leaf{path + "." + f.Name, index})
	}
	return out
}

// metadata are the fields that record a commit, not a setting. The schema
// is the document's layout: no merge section, but part of the settings.
var metadata = map[string]bool{"Config.Version": true, "Config.Time": true, "Config.User": true, "Config.Comment": true}

const schemaField = "Config.Schema"

// slicePointers collects the backing-array address of every non-empty slice.
func slicePointers(v reflect.Value, out map[uintptr]string, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			slicePointers(v.Elem(), out, path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			slicePointers(v.Field(i), out, path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		if v.Len() > 0 {
			out[v.Pointer()] = path
		}
		for i := range v.Len() {
			slicePointers(v.Index(i), out, path+"[]")
		}
	}
}

func TestCloneSharesNothing(t *testing.T) {
	c := filled(1)
	orig, clone := map[uintptr]string{}, map[uintptr]string{}
	slicePointers(reflect.ValueOf(c), orig, "Config")
	slicePointers(reflect.ValueOf(c.Clone()), clone, "Config")
	require.NotEmpty(t, orig)
	for p, path := range clone {
		_, shared := orig[p]
		assert.False(t, shared, "%s shares its backing array with the original: copy it in Clone", path)
	}
	assert.True(t, reflect.DeepEqual(c, c.Clone()))
}

// TestEveryFieldIsASetting changes one field at a time: SameSettings, Diff
// and ChangedSections must all see a setting change, and none a metadata one.
func TestEveryFieldIsASetting(t *testing.T) {
	base := filled(1)
	for _, lf := range leaves(reflect.TypeFor[Config](), nil, "Config") {
		t.Run(lf.path, func(t *testing.T) {
			changed := base.Clone()
			lf.get(changed).Set(lf.get(filled(2)))
			if metadata[lf.path] {
				assert.True(t, SameSettings(base, changed))
				assert.Empty(t, Diff(base, changed))
				assert.Empty(t, ChangedSections(base, changed))
				return
			}
			assert.False(t, SameSettings(base, changed), "SameSettings misses %s", lf.path)
			assert.NotEmpty(t, Diff(base, changed), "Diff misses %s", lf.path)
			if lf.path == schemaField {
				assert.Empty(t, ChangedSections(base, changed))
				return
			}
			assert.Len(t, ChangedSections(base, changed), 1, "%s must be in exactly one merge section", lf.path)
		})
	}
}
