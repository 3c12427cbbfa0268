package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested by running main on scripts (testdata/script/*.txtar):
// each script is a shell-like session with its input files inline.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"impact": func() { os.Exit(run()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("IMPACT_MASTER_PASSWORD", "")
			return nil
		},
	})
}
