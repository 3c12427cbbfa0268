package main

import (
	"fmt"
	"runtime/debug"
)

// version is set by -ldflags "-X main.version=..." in release builds.
var version = "dev"

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	return v
}

func cmdVersion(e *env, args []string) error {
	fs := newFlagSet("version", e, "impact version", "Print the version.", "    impact version\n")
	if err := parse(fs, e, args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "impact", versionString())
	return nil
}
