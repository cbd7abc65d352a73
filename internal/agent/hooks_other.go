//go:build !unix

package agent

import "os/exec"

// killGroupOnCancel leaves cmd as it is: its context kills the command itself.
func killGroupOnCancel(*exec.Cmd) {}
