package backend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Security group rules are checked twice, as CC does: by the message's
// RulesValidator (cc:app/messages/validators/security_group_rule_validator.rb),
// whose texts name the rule by index, then by the model
// (SecurityGroup#validate_rules with cc:lib/cloud_controller/rule_validator.rb,
// transport_rule_validator.rb, icmp_rule_validator.rb), whose texts number
// it from 1. Both take CC's defaults: enable_ipv6 and
// security_groups.enable_comma_delimited_destinations are off.

// allowedRuleKeys is RulesValidator::ALLOWED_RULE_KEYS.
var allowedRuleKeys = []string{"code", "description", "destination", "log", "ports", "protocol", "type"}

// ruleObject is one rule: its keys in the order they were sent, and their
// values.
type ruleObject struct {
	keys   []string
	values map[string]json.RawMessage
}

// parseRuleObject reads a JSON object keeping its key order; false when
// raw is not an object.
func parseRuleObject(raw json.RawMessage) (ruleObject, bool) {
	var r ruleObject
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &r.values) != nil {
		return r, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return r, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return r, false
		}
		k, _ := t.(string)
		if !contains(r.keys, k) {
			r.keys = append(r.keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return r, false
		}
	}
	return r, true
}

// str is the rule's value of key when it is a string.
func (r ruleObject) str(key string) (string, bool) {
	var s string
	ok := jsonKind(r.values[key]) == '"' && json.Unmarshal(r.values[key], &s) == nil
	return s, ok
}

// truthy is Ruby's truth of the value of key: present, not null, not false.
func (r ruleObject) truthy(key string) bool {
	k := jsonKind(r.values[key])
	return k != 0 && k != 'n' && k != 'f'
}

// validateRules is RulesValidator#validate.
func validateRules(raw json.RawMessage, p *problems) {
	var rules []json.RawMessage
	if jsonKind(raw) != '[' || json.Unmarshal(raw, &rules) != nil {
		p.add("Rules must be an array")
		return
	}
	for i, item := range rules {
		add := func(msg string) { p.add(fmt.Sprintf("Rules[%d]: %s", i, msg)) }
		rule, ok := parseRuleObject(item)
		if !ok {
			add("must be an object")
			continue
		}
		var unknown []string
		for _, k := range rule.keys {
			if !contains(allowedRuleKeys, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			add("unknown field(s): " + rubyGUIDs(unknown))
		}
		protocol, isString := rule.str("protocol")
		if !isString || !contains([]string{"tcp", "udp", "icmp", "icmpv6", "all"}, protocol) {
			add("protocol must be 'tcp', 'udp', 'icmp', 'icmpv6' or 'all'")
		}
		if dest, ok := ruleDestinationType(rule, add); ok {
			// With commas refused, a destination is one address, a CIDR or
			// a range; Ruby's "".split(",") has no part to check.
			if dest != "" {
				ruleDestination(dest, protocol, add)
			}
		}
		if rule.truthy("description") && jsonKind(rule.values["description"]) != '"' {
			add("description must be a string")
		}
		if rule.truthy("log") && jsonKind(rule.values["log"]) != 't' {
			add("log must be a boolean")
		}
		switch protocol {
		case "tcp", "udp":
			if !rule.truthy("ports") {
				add("ports are required for protocols of type TCP and UDP")
			}
			if ports, ok := rule.str("ports"); !ok || !validPorts(ports) {
				add("ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string")
			}
		case "icmpv6":
			add("icmpv6 cannot be used if enable_ipv6 is false")
			ruleICMP(rule, add)
		case "icmp":
			ruleICMP(rule, add)
		case "all":
			if rule.truthy("ports") {
				add("ports are not allowed for protocols of type all")
			}
		}
	}
}

// destinationInvalid is RulesValidator's text for a destination that is
// not an address, a CIDR or a range.
const destinationInvalid = "destination must be a valid CIDR, IP address, or IP address range"

// ruleDestinationType is valid_destination_type: a string without white
// space or commas.
func ruleDestinationType(rule ruleObject, add func(string)) (string, bool) {
	switch jsonKind(rule.values["destination"]) {
	case 0, 'n':
		add(destinationInvalid)
		return "", false
	}
	dest, ok := rule.str("destination")
	switch {
	case !ok:
		add("destination must be a string")
		return "", false
	case strings.IndexFunc(dest, unicode.IsSpace) >= 0:
		add("destination must not contain whitespace")
		return "", false
	case strings.Contains(dest, ","):
		add(destinationInvalid)
		return "", false
	}
	return dest, true
}

// rubySplit is Ruby's String#split with a string separator: trailing
// empty parts are dropped.
func rubySplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// ruleDestination is validate_destination for one destination.
func ruleDestination(dest, protocol string, add func(string)) {
	addresses := rubySplit(dest, "-")
	noZeros := true
	for _, a := range addresses {
		noZeros = noZeros && noLeadingZeros(a)
	}
	if !noZeros {
		add("destination octets cannot contain leading zeros")
	}
	switch len(addresses) {
	case 1:
		ip, ok := parseIPv4(addresses[0], true)
		if !ok && noZeros {
			add(destinationInvalid)
		}
		if ok && protocol == "icmpv6" {
			add(`for protocol "icmpv6" you cannot use IPv4 addresses`)
		}
		_ = ip
	case 2:
		first, ok1 := parseIPv4(addresses[0], false)
		last, ok2 := parseIPv4(addresses[1], false)
		if !ok1 || !ok2 {
			add("destination IP address range is invalid")
			return
		}
		if first.Compare(last) > 0 {
			add("beginning of IP address range is numerically greater than the end of its range (range endpoints are inverted)")
		}
		if protocol == "icmpv6" {
			add(`for protocol "icmpv6" you cannot use IPv4 addresses`)
		}
	default:
		add(destinationInvalid)
	}
}

// noLeadingZeros is RuleValidator.no_leading_zeros_in_address: no octet
// of an IPv4 address starts with 0 unless it is 0 (a prefix may follow).
func noLeadingZeros(address string) bool {
	if !strings.Contains(address, ".") {
		return true
	}
	for _, octet := range strings.Split(address, ".") {
		if strings.HasPrefix(octet, "0") && len(octet) > 1 {
			parts := rubySplit(octet, "/")
			if len(parts) < 2 || len(parts[0]) > 1 && strings.HasPrefix(parts[0], "0") {
				return false
			}
		}
	}
	return true
}

// parseIPv4 is RuleValidator.parse_ip with IPv6 off: an IPv4 address, or
// a CIDR when prefix is allowed (IPAddr.new masks its host bits).
func parseIPv4(s string, prefix bool) (netip.Addr, bool) {
	if strings.Contains(s, "/") {
		if !prefix {
			return netip.Addr{}, false
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil || !pfx.Addr().Is4() {
			return netip.Addr{}, false
		}
		return pfx.Masked().Addr(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

var (
	portRange = regexp.MustCompile(`^\s*(\d+)\s*-\s*(\d+)\s*$`)
	portOne   = regexp.MustCompile(`^\s*\d+\s*$`)
	portChars = regexp.MustCompile(`[^\d\s\-,]`)
)

// validPorts is TransportRuleValidator.validate_port: a port, a range
// "low-high" or a comma-separated list, each from 1 to 65535.
func validPorts(ports string) bool {
	if portChars.MatchString(ports) {
		return false
	}
	inRange := func(s string) bool {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		return err == nil && n > 0 && n < 65536
	}
	if m := portRange.FindStringSubmatch(ports); m != nil {
		left, _ := strconv.Atoi(m[1])
		right, _ := strconv.Atoi(m[2])
		return left < right && inRange(m[1]) && inRange(m[2])
	}
	list := rubySplit(ports, ",")
	if len(list) == 0 {
		return false
	}
	for _, p := range list {
		if !portOne.MatchString(p) || !inRange(p) {
			return false
		}
	}
	return true
}

// icmpValue is ICMPRuleValidator.validate_icmp_control_message: an
// integer from -1 to 255.
func icmpValue(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if k := jsonKind(raw); k != '-' && (k < '0' || k > '9') || bytes.ContainsAny(raw, ".eE") {
		return false
	}
	n, err := strconv.Atoi(string(raw))
	return err == nil && n >= -1 && n < 256
}

// ruleICMP is validate_icmp_protocol.
func ruleICMP(rule ruleObject, add func(string)) {
	for _, k := range []string{"code", "type"} {
		if !rule.truthy(k) {
			add(k + " is required for protocols of type ICMP")
		}
		if !icmpValue(rule.values[k]) {
			add(k + " must be an integer between -1 and 255 (inclusive)")
		}
	}
}

// modelRuleErrors is SecurityGroup#validate_rules on rules that passed
// the message: "rules rule number <n> <text>" for each problem.
func modelRuleErrors(raw json.RawMessage) []string {
	var rules []json.RawMessage
	if json.Unmarshal(raw, &rules) != nil {
		return nil
	}
	var out []string
	for i, item := range rules {
		rule, ok := parseRuleObject(item)
		if !ok {
			continue
		}
		required := []string{"protocol", "destination"}
		protocol, _ := rule.str("protocol")
		switch protocol {
		case "tcp", "udp":
			required = append(required, "ports")
		case "icmp", "icmpv6":
			required = append(required, "code", "type")
		case "all":
		default:
			out = append(out, fmt.Sprintf("rules rule number %d contains an unsupported protocol", i+1))
			continue
		}
		for _, e := range ruleModelErrors(rule, protocol, required) {
			out = append(out, fmt.Sprintf("rules rule number %d %s", i+1, e))
		}
	}
	return out
}

// ruleModelErrors is RuleValidator.validate and its transport and ICMP
// subclasses for one rule.
func ruleModelErrors(rule ruleObject, protocol string, required []string) []string {
	var errs []string
	for _, k := range required {
		if _, ok := rule.values[k]; !ok {
			errs = append(errs, "missing required field '"+k+"'")
		}
	}
	allowed := append(append([]string{}, required...), "log", "description")
	for _, k := range rule.keys {
		if !contains(allowed, k) {
			errs = append(errs, "contains the invalid field '"+k+"'")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if dest, ok := rule.str("destination"); !ok || dest == "" || strings.IndexFunc(dest, unicode.IsSpace) >= 0 || !modelDestination(dest) {
		errs = append(errs, "contains invalid destination")
	}
	if k := jsonKind(rule.values["log"]); k != 0 && k != 't' && k != 'f' {
		errs = append(errs, "contains invalid log value")
	}
	if k := jsonKind(rule.values["description"]); k != 0 && k != '"' {
		errs = append(errs, "contains invalid description")
	}
	if len(errs) > 0 {
		return errs
	}
	switch protocol {
	case "tcp", "udp":
		if ports, ok := rule.str("ports"); !ok || !validPorts(ports) {
			errs = append(errs, "contains invalid ports")
		}
	case "icmp", "icmpv6":
		if !icmpValue(rule.values["type"]) {
			errs = append(errs, "contains invalid type")
		}
		if !icmpValue(rule.values["code"]) {
			errs = append(errs, "contains invalid code")
		}
	}
	return errs
}

// modelDestination is RuleValidator.validate_destination without commas.
func modelDestination(dest string) bool {
	if strings.Contains(dest, ",") {
		return false
	}
	addresses := rubySplit(dest, "-")
	switch len(addresses) {
	case 1:
		_, ok := parseIPv4(addresses[0], true)
		return ok
	case 2:
		first, ok1 := parseIPv4(addresses[0], false)
		last, ok2 := parseIPv4(addresses[1], false)
		return ok1 && ok2 && first.Compare(last) <= 0
	}
	return false
}
