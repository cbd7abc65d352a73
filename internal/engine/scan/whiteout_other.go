//go:build unix && !darwin

package scan

// sIFWHT is a file type no stat gives here (os.Lstat has whiteouts only on macOS).
const sIFWHT = 1 << 20
