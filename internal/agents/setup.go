package agents

// Setup is how to set an agent up on one platform: the commands differ (no sudo on
// Windows, where an elevated prompt runs the .exe), so each is shown for its platform.
type Setup struct {
	Platform string // runtime.GOOS: linux, darwin, windows
	Label    string // Linux, macOS, Windows
	// Where says where to run the commands.
	Where          string
	EnrollCommand  string
	InstallCommand string // registers the agent as a system service
}

// platforms are the agent's platforms, in the order they are offered.
var platforms = []struct{ goos, label string }{{"linux", "Linux"}, {"darwin", "macOS"}, {"windows", "Windows"}}

// setup is the Setup on platform goos for key.
func (s *Service) setup(goos, label, key string) Setup {
	if goos == "windows" {
		return Setup{Platform: goos, Label: label,
			Where:          "in PowerShell or a Command Prompt run as Administrator, in the folder holding backapp-agent.exe",
			EnrollCommand:  `.\backapp-agent.exe enroll --server ` + s.baseURL + " --key " + key,
			InstallCommand: `.\backapp-agent.exe install`}
	}
	where := "in a terminal; installing the service needs root (systemd)"
	if goos == "darwin" {
		where = "in Terminal; installing the service needs root (launchd)"
	}
	return Setup{Platform: goos, Label: label, Where: where,
		EnrollCommand: s.EnrollCommand(key), InstallCommand: InstallCommand}
}

// Setups are the set-up commands for an agent with key: for its own platform once it
// has reported one (a key rotated on an enrolled agent), else for each platform.
func (s *Service) Setups(platform, key string) []Setup {
	var out []Setup
	for _, p := range platforms {
		if platform == "" || platform == p.goos {
			out = append(out, s.setup(p.goos, p.label, key))
		}
	}
	if len(out) == 0 { // a platform the agent does not ship for: the Unix commands
		out = append(out, s.setup(platform, platform, key))
	}
	return out
}
