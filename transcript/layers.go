package transcript

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Names of fsview's optional interfaces in Header.Layers.
const (
	abilitySyncer           = "Syncer"
	abilitySymlinkIndex     = "SymlinkIndex"
	abilitySharer           = "Sharer"
	abilityFileReplacer     = "FileReplacer"
	abilityUnsyncedReplacer = "UnsyncedFileReplacer"
	abilityLinkReplacer     = "LinkReplacer"
	abilityChangeNotifier   = "ChangeNotifier"
	abilityRegularReader    = "RegularReader"
	abilityNoReplaceRenamer = "NoReplaceRenamer"
)

// abilities names the optional interfaces o holds, sorted.
func abilities(o fsview.Optionals) []string {
	var names []string
	for name, has := range map[string]bool{
		abilitySyncer: o.Syncer != nil, abilitySymlinkIndex: o.SymlinkIndex != nil, abilitySharer: o.Sharer != nil,
		abilityFileReplacer: o.FileReplacer != nil, abilityLinkReplacer: o.LinkReplacer != nil,
		abilityUnsyncedReplacer: o.UnsyncedFileReplacer != nil,
		abilityChangeNotifier:   o.ChangeNotifier != nil, abilityRegularReader: o.RegularReader != nil,
		abilityNoReplaceRenamer: o.NoReplaceRenamer != nil,
	} {
		if has {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// isFileRead reports a step that read a file's contents: a plain read or
// a checked one (RegularReader).
func isFileRead(k Kind) bool { return k == KindReadFile || k == KindReadRegular }

// layerName is a step path prefix as the header's layers line names it:
// "host" for "", else the prefix without its colon.
func layerName(prefix string) string {
	if prefix == "" {
		return "host"
	}
	return strings.TrimSuffix(prefix, ":")
}

// formatLayers renders Header.Layers: "host=A,B proc=A".
func formatLayers(layers map[string][]string) string {
	var parts []string
	for _, prefix := range sortedKeys(layers) {
		parts = append(parts, layerName(prefix)+"="+strings.Join(layers[prefix], ","))
	}
	return strings.Join(parts, " ")
}

// parseLayers reads formatLayers' text.
func parseLayers(text string) (map[string][]string, error) {
	layers := map[string][]string{}
	for _, part := range strings.Fields(text) {
		name, list, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("layer %q: want NAME=INTERFACE,...", part)
		}
		prefix := name + ":"
		if name == "host" {
			prefix = ""
		}
		layers[prefix] = nil
		if list != "" {
			layers[prefix] = strings.Split(list, ",")
		}
	}
	return layers, nil
}

// longestText renders a SymlinkIndex answer as three Go-quoted fields:
// prefix, lstat answer ("" for none) and link target.
func longestText(prefix, info, target string) string {
	return strconv.Quote(prefix) + " " + strconv.Quote(info) + " " + strconv.Quote(target)
}

// parseLongest reads longestText's fields.
func parseLongest(text string) (prefix, info, target string, err error) {
	var fields []string
	for rest := strings.TrimSpace(text); rest != ""; rest = strings.TrimSpace(rest) {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", "", "", fmt.Errorf("transcript longest answer %q: %w", text, err)
		}
		s, _ := strconv.Unquote(q)
		fields, rest = append(fields, s), rest[len(q):]
	}
	if len(fields) != 3 {
		return "", "", "", fmt.Errorf("transcript longest answer %q: want prefix, info and target", text)
	}
	return fields[0], fields[1], fields[2], nil
}
