package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// progressPrinter shows a one-line progress bar on a terminal and plain lines every
// few seconds otherwise (logs, pipes).
type progressPrinter struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		p.tty, p.every = true, 0
	}
	return p
}

// update prints done of total (total ≤ 0: unknown) with a description.
func (p *progressPrinter) update(done, total int64, desc string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	if !p.tty {
		fmt.Fprintln(p.w, desc)
		return
	}
	const width = 30
	bar := strings.Repeat("·", width)
	pct := ""
	if total > 0 {
		n := int(min(done, total) * width / total)
		bar = strings.Repeat("█", n) + strings.Repeat("·", width-n)
		pct = fmt.Sprintf("%3d%% ", min(done, total)*100/total)
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %s%s", bar, pct, desc)
	p.shown = true
}

// finish ends the bar's line.
func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
	p.shown = false
}
