package config

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filled returns a config in which every slice has at least one element.
func filled() *Config {
	c := testDefaults()
	c.Listeners[0].RelayFrom = []string{"192.0.2.0/24"}
	c.Listeners[1].Domains = []string{"example.net"}
	c.Trust.CustomCAs = []CA{{Name: "lab", PEM: "x"}}
	c.Routes = []Route{{Domain: "a.test", Hosts: []string{"mx.a.test"}}}
	c.Destinations.Domains = []DestPolicy{{Domain: "a.test"}}
	c.Destinations.AlertRecipients = []string{"ops@a.test"}
	return c
}

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
	c := filled()
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
