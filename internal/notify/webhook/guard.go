package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is returned (wrapped) when a target's address is not allowed.
var ErrRefused = errors.New("webhook target refused")

// Guard decides which addresses deliveries may connect to. The zero Guard refuses
// every non-public address.
type Guard struct {
	nets  []netip.Prefix
	hosts map[string]bool
}

// ParseAllow reads --webhook-allow: a comma-separated list of host names, IP
// addresses and CIDR networks that deliveries may reach even though they are
// loopback, private or link-local ("localhost,10.0.0.0/8,hooks.internal").
func ParseAllow(list string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case strings.Contains(item, "/"):
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("--webhook-allow: %q is not a network like 10.0.0.0/8: %w", item, err)
			}
			g.nets = append(g.nets, p.Masked())
		default:
			if ip, err := netip.ParseAddr(item); err == nil {
				g.nets = append(g.nets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			if strings.ContainsAny(item, " :@") {
				return nil, fmt.Errorf("--webhook-allow: %q is not a host name, an IP address or a network", item)
			}
			g.hosts[strings.ToLower(strings.TrimSuffix(item, "."))] = true
		}
	}
	return g, nil
}

// special are the ranges refused besides those netip classifies (loopback,
// private, link-local, multicast, unspecified).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),     // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64 of any IPv4, private ones too
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6 (also ULA)
}

// Refused reports why ip may not be reached ("" when it may).
func (g *Guard) Refused(ip netip.Addr) string {
	ip = ip.Unmap()
	for _, p := range g.nets {
		if p.Contains(ip) {
			return ""
		}
	}
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address (cloud metadata services live there)"
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "not a unicast address"
	}
	for _, p := range special {
		if p.Contains(ip) {
			return "a reserved address"
		}
	}
	return ""
}

// control checks the address a connection is about to be made to: the resolved IP,
// so a name that resolves to a private address, or re-resolves to one later (DNS
// rebinding), is refused all the same.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read address %q", ErrRefused, address)
	}
	if why := g.Refused(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s; an administrator can allow it with --webhook-allow", ErrRefused, ap.Addr(), why)
	}
	return nil
}

// Limits of a delivery.
const (
	ConnectTimeout  = 10 * time.Second
	ResponseTimeout = 15 * time.Second // until the response headers
	TotalTimeout    = 30 * time.Second
	MaxBodyRead     = 64 << 10 // what is read back of a response
)

// Client returns the HTTP client deliveries use: the guard on every connection
// (hosts allowed by name skip it), no proxy from the environment, no redirects
// (the 3xx is the answer), and the time limits above.
func (g *Guard) Client() *http.Client {
	guarded := &net.Dialer{Timeout: ConnectTimeout, Control: g.control}
	open := &net.Dialer{Timeout: ConnectTimeout}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err == nil && g.hosts[strings.ToLower(strings.TrimSuffix(host, "."))] {
				return open.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   ConnectTimeout,
		ResponseHeaderTimeout: ResponseTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       TotalTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ReadBody reads at most MaxBodyRead bytes of resp's body (what a channel's
// attempts show) and drains no more.
func ReadBody(resp *http.Response) (string, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyRead))
	return string(b), err
}
