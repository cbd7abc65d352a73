package agent

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// makePrivate gives path the protected DACL of privateSDDL: on Windows a file mode of
// 0600 means nothing, and a file under %ProgramData% inherits an ACL that lets local
// users read it.
func makePrivate(path string, dir bool) error {
	user, err := currentUserSID()
	if err != nil {
		return fmt.Errorf("restrict access to %s: %w", path, err)
	}
	sd, err := windows.SecurityDescriptorFromString(privateSDDL(user, dir))
	if err != nil {
		return fmt.Errorf("restrict access to %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("restrict access to %s: %w", path, err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict access to %s: %w", path, err)
	}
	return nil
}

func currentUserSID() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", err
	}
	return u.User.Sid.String(), nil
}

// tightenDir does nothing on Windows: file modes mean nothing there, and makePrivate
// gives the directory its protected ACL.
func tightenDir(string) (os.FileMode, bool, error) { return 0, false, nil }
