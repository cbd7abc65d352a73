package agent

import "fmt"

// privateSDDL is the security descriptor (SDDL) that makes a file, or a directory and
// what is created in it, readable and writable only by SYSTEM, the Administrators and
// the user that wrote it (the installing administrator, or the user running an agent
// of their own): a protected DACL ("P"), so nothing is inherited from %ProgramData%,
// whose ACL lets every local user read. agent.json holds the agent's key.
func privateSDDL(userSID string, dir bool) string {
	inherit := ""
	if dir {
		inherit = "OICI" // objects and containers created inside inherit the ACE
	}
	s := fmt.Sprintf("D:P(A;%[1]s;FA;;;SY)(A;%[1]s;FA;;;BA)", inherit)
	if userSID != "" && userSID != "S-1-5-18" && userSID != "S-1-5-32-544" {
		s += fmt.Sprintf("(A;%s;FA;;;%s)", inherit, userSID)
	}
	return s
}
