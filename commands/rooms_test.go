package commands

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shared are the files every command file may use.
var shared = map[string]bool{"app.go": true, "prompts.go": true, "files.go": true}

// rooms are the files that serve one command together: the first may use the second.
var rooms = map[[2]string]bool{
	{"certconfig.go", "certauthority.go"}: true, // certconfig's two menus
	{"logs.go", "grepargs.go"}:            true, // grep and its batch-form parser
	{"userconfig.go", "userkeys.go"}:      true, // an account's SSH keys: userconfig EDIT SSHKEYS …
	{"sshconfig.go", "userkeys.go"}:       true, // … and sshconfig USERKEYS, one implementation
}

// TestCommandFilesDependOnSharedRoomsOnly: a command file uses what
// prompts.go, files.go and app.go declare, and its own declarations, never
// another command's, so a new command can be added (or one changed) without
// reading the others.
func TestCommandFilesDependOnSharedRoomsOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	declaredIn := map[string]string{}
	parsed := map[string]*ast.File{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		parsed[name] = f
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					declaredIn[d.Name.Name] = name
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							declaredIn[n.Name] = name
						}
					case *ast.TypeSpec:
						declaredIn[spec.Name.Name] = name
					}
				}
			}
		}
	}
	var bad []string
	for name, f := range parsed {
		if shared[name] {
			continue
		}
		uses := map[string]bool{}
		selected := map[*ast.Ident]bool{} // x.Name: a field, method or another package's name
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				selected[sel.Sel] = true
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && !selected[id] && id.Obj == nil { // Obj: resolved in this file
				if from := declaredIn[id.Name]; from != "" && from != name && !shared[from] && !rooms[[2]string{name, from}] {
					uses[name+" uses "+id.Name+" from "+from] = true
				}
			}
			return true
		})
		for u := range uses {
			bad = append(bad, u)
		}
	}
	sort.Strings(bad)
	assert.Empty(t, bad, "move what two command files share into prompts.go (or files.go)")
}
