package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/testscripts"
)

// The JUnit XML report of `scenario run --junit`, in the shape Jenkins'
// JUnit plugin, GitLab and GitHub test reporters read: <testsuites>, one
// <testsuite> per directory of scenarios, one <testcase> per scenario,
// times in seconds. A failure carries testscript's failure line as its
// message and the script's log as its text; the virtual time is a
// testcase property.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	File       string          `xml:"file,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitFailure   `xml:"failure,omitempty"`
	Skipped    *junitSkipped   `xml:"skipped,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct{}

// junitReport builds the report of results, started at start.
func junitReport(results []testscripts.Result, start time.Time) junitSuites {
	report := junitSuites{Name: "nixfleet-activate scenario run"}
	index := map[string]int{} // suite by directory
	var total time.Duration
	var wall []time.Duration // per suite
	for _, r := range results {
		dir := filepath.Dir(r.File)
		i, ok := index[dir]
		if !ok {
			i = len(report.Suites)
			index[dir] = i
			report.Suites = append(report.Suites, junitSuite{Name: dir, Timestamp: start.UTC().Format("2006-01-02T15:04:05")})
			wall = append(wall, 0)
		}
		s := &report.Suites[i]
		c := junitCase{Name: r.Name, Classname: dir, File: r.File, Time: seconds(r.Wall),
			Properties: []junitProperty{{Name: "virtual_time", Value: r.Virtual.String()}}}
		switch {
		case r.Failed:
			c.Failure = &junitFailure{Message: failureMessage(r), Type: "scenario", Text: r.Log}
			s.Failures++
		case r.Skipped:
			c.Skipped = &junitSkipped{}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
		total += r.Wall
		wall[i] += r.Wall
	}
	for i := range report.Suites {
		s := &report.Suites[i]
		s.Time = seconds(wall[i])
		report.Tests, report.Failures, report.Skipped = report.Tests+s.Tests, report.Failures+s.Failures, report.Skipped+s.Skipped
	}
	report.Time = seconds(total)
	return report
}

// failureMessage is the failing command and testscript's failure line.
func failureMessage(r testscripts.Result) string {
	if r.FailedCommand == "" {
		return r.FailedAt
	}
	return r.FailedCommand + ": " + r.FailedAt
}

// seconds renders a duration as JUnit's seconds with millisecond digits.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes the JUnit XML report of results to file. Errors: the
// file cannot be written.
func writeJUnit(file string, results []testscripts.Result, start time.Time) error {
	data, err := xml.MarshalIndent(junitReport(results, start), "", "  ")
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.Write(data)
	b.WriteString("\n")
	return os.WriteFile(file, []byte(b.String()), 0o644)
}
