package sim

import (
	"fmt"
	"net/http"
	"strings"
)

// Transfers of an http(s) binary cache as Nix 2.8 reports them (observed
// against a substituter on 127.0.0.1 answering each status with an empty
// body; Nix 2.3's texts from its download.cc). Nix retries a transient
// failure (HTTP 5xx but 501/505/511, curl errors) four times, then fails;
// it folds 401, 403, 407 and 404 into "the file is not there" (the narinfo:
// the cache lacks the path; the NAR: "does not exist in binary cache";
// nix-cache-info: "does not appear to be a binary cache"), so only --debug's
// status lines show them.

// isHTTP reports whether url is an http(s) substituter (the others make no
// HTTP transfers and print no status lines).
func isHTTP(url string) bool {
	return strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")
}

// transient reports a status Nix 2.8 retries (filetransfer.cc): 5xx but
// 501, 505 and 511, and 408, 429.
func transient(status int) bool {
	switch {
	case status == 501 || status == 505 || status == 511:
		return false
	case status >= 500, status == 408, status == 429:
		return true
	}
	return false
}

// substituterUsable reports whether url can be asked for paths, adding what
// Nix 2.8 prints when it cannot: an unreachable cache's retries; a 5xx on
// nix-cache-info: the retries and a final warning; any other status: Nix
// tries to create nix-cache-info (an upload, refused alike) and warns that
// it "does not appear to be a binary cache".
func (h *Host) substituterUsable(url string, debug bool, sub *substitution) bool {
	status, faulty := h.cacheFaults[url]
	info := strings.TrimRight(url, "/") + "/nix-cache-info"
	switch {
	case faulty && status == 0:
		sub.stderr = append(sub.stderr, h.phrase.Unreachable(url))
		sub.took += retryTime()
		return false
	case !isHTTP(url):
		return true
	case !faulty:
		sub.debugLine(debug, h.phrase.FinishedTransfer("download", info, 200))
		return true
	case transient(status):
		sub.stderr = append(sub.stderr, h.phrase.HTTPRetries(info, status)...)
		sub.stderr = append(sub.stderr, "warning: "+h.phrase.HTTPError(info, status))
		sub.took += retryTime()
		sub.debugLine(debug, h.phrase.FinishedTransfer("download", info, status))
		return false
	}
	sub.debugLine(debug, h.phrase.FinishedTransfer("download", info, status))
	sub.debugLine(debug, h.phrase.FinishedTransfer("upload", info, status))
	sub.stderr = append(sub.stderr, fmt.Sprintf("warning: '%s' does not appear to be a binary cache", url))
	return false
}

// narinfoServed reports whether the substituter hands out the offer's
// narinfo: a refused or missing one means "not in this cache"; a transient
// failure, after the retries, ends the whole command (sub.abort; Nix 2.8
// prints "error: unable to download" and no "build of" line).
func (h *Host) narinfoServed(p string, o Offer, debug bool, sub *substitution) bool {
	if !isHTTP(o.URL) {
		return true
	}
	narinfo := strings.TrimRight(o.URL, "/") + "/" + strings.TrimPrefix(p, StoreDir+"/")[:hashLen] + ".narinfo"
	status := o.NarinfoStatus
	if status == 0 {
		status = 200
	}
	sub.debugLine(debug, h.phrase.FinishedTransfer("download", narinfo, status))
	switch {
	case status == 200:
		return true
	case transient(status):
		sub.stderr = append(sub.stderr, h.phrase.HTTPRetries(narinfo, status)...)
		sub.stderr = append(sub.stderr, "error: "+h.phrase.HTTPError(narinfo, status))
		sub.took += retryTime()
		sub.abort = true
	case status < 500:
		// 401, 403, 407, 404, 410: "not there" (binary-cache-store.cc).
	default:
		sub.stderr = append(sub.stderr, "error: "+h.phrase.HTTPError(narinfo, status))
		sub.abort = true
	}
	return false
}

// narStatusError is the error line(s) of a NAR answered with o.NarStatus:
// 401/403/404 read as a missing NAR, 5xx after the retries as the HTTP
// error itself.
func (h *Host) narStatusError(p string, o Offer, debug bool, sub *substitution) string {
	file := "nar/" + sha256Base32("nar "+p) + ".nar.xz"
	url := strings.TrimRight(o.URL, "/") + "/" + file
	sub.debugLine(debug, h.phrase.FinishedTransfer("download", url, o.NarStatus))
	if transient(o.NarStatus) {
		sub.stderr = append(sub.stderr, h.phrase.HTTPRetries(url, o.NarStatus)...)
		sub.took += retryTime()
	}
	if o.NarStatus >= 500 {
		return "error: " + h.phrase.HTTPError(url, o.NarStatus)
	}
	return fmt.Sprintf("error: file '%s' does not exist in binary cache '%s'", file, o.URL)
}

// debugLine adds a --debug line when debug is on.
func (s *substitution) debugLine(debug bool, line string) {
	if debug {
		s.stderr = append(s.stderr, line)
	}
}

// HTTPError is Nix's text for a transfer answered with an HTTP error
// status (empty body): "unable to download 'URL': HTTP error 500" (Nix
// 2.3, download.cc), "... HTTP error 500 ('Internal Server Error')" (Nix
// 2.4 and later up to at least 2.8, observed with 2.8; later versions drop
// the quotes, not emulated).
func (p Phrasing) HTTPError(url string, status int) string {
	if p.minor <= 3 {
		return fmt.Sprintf("unable to download '%s': HTTP error %d", url, status)
	}
	return fmt.Sprintf("unable to download '%s': HTTP error %d ('%s')", url, status, http.StatusText(status))
}

// HTTPRetries are the four warnings of a transient HTTP failure before
// the last attempt (Nix 2.8, observed; the waits as UnreachableRetryDelays).
func (p Phrasing) HTTPRetries(url string, status int) []string {
	lines := make([]string, 0, len(UnreachableRetryDelays))
	for _, ms := range UnreachableRetryDelays {
		lines = append(lines, fmt.Sprintf("warning: error: %s; retrying in %d ms", p.HTTPError(url, status), ms))
	}
	return lines
}

// FinishedTransfer is Nix's --debug line at the end of a transfer (Nix 2.3
// to current, filetransfer.cc; observed with 2.8; the simulator's bodies
// are empty).
func (p Phrasing) FinishedTransfer(verb, url string, status int) string {
	return fmt.Sprintf("finished %s of '%s'; curl status = 0, HTTP status = %d, body = 0 bytes", verb, url, status)
}
