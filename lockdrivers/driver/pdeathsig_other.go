//go:build !linux

package driver

import "os/exec"

// TODO: no parent-death signal outside Linux; a driver may outlive a host
// killed with SIGKILL there (run keyward under a service manager that kills
// the process group).
func setParentDeathSignal(*exec.Cmd) {}
