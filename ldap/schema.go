package ldap

import (
	"fmt"
	"strings"
)

// OIDArc is keyward's own object identifier arc: 2.25 followed by the UUID
// 50c264ba-eb85-40d6-ac6d-093dd66d7d24 written as an integer (ITU-T X.667), so no
// registration is needed. Attribute types live under OIDArc.1, object classes under
// OIDArc.2. The value is fixed forever: changing it breaks every client's schema cache.
const OIDArc = "2.25.107347588303637689845956237604477041956"

// match is how values of an attribute compare.
type match int

const (
	matchCaseIgnore match = iota // caseIgnoreMatch and IA5 variants: folded, spaces squeezed
	matchCaseExact
	matchDN      // distinguishedNameMatch, uniqueMemberMatch
	matchTime    // generalizedTimeMatch / OrderingMatch
	matchOID     // objectIdentifierMatch (names compare case-insensitively)
	matchBoolean // booleanMatch
	matchUUID    // UUIDMatch
	matchInteger // integerMatch / integerOrderingMatch
	matchNone    // no equality rule: filters on it are Undefined
)

// attrType is one attribute type of the published schema.
type attrType struct {
	oid         string
	names       []string
	sup         string
	equality    string
	ordering    string
	substr      string
	syntax      string
	single      bool
	noUserMod   bool
	usage       string // "", directoryOperation, dSAOperation
	desc        string
	match       match
	operational bool
	ord         int // position in attributeTypes
}

// maxAttrTypes bounds the published attribute types (entry slots).
const maxAttrTypes = 128

func (a *attrType) name() string { return a.names[0] }

func (a *attrType) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "( %s NAME ", a.oid)
	if len(a.names) == 1 {
		fmt.Fprintf(&b, "'%s'", a.names[0])
	} else {
		b.WriteString("( ")
		for _, n := range a.names {
			fmt.Fprintf(&b, "'%s' ", n)
		}
		b.WriteString(")")
	}
	if a.desc != "" {
		fmt.Fprintf(&b, " DESC '%s'", a.desc)
	}
	if a.sup != "" {
		fmt.Fprintf(&b, " SUP %s", a.sup)
	}
	for _, kv := range [][2]string{{"EQUALITY", a.equality}, {"ORDERING", a.ordering}, {"SUBSTR", a.substr}, {"SYNTAX", a.syntax}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s %s", kv[0], kv[1])
		}
	}
	if a.single {
		b.WriteString(" SINGLE-VALUE")
	}
	if a.noUserMod {
		b.WriteString(" NO-USER-MODIFICATION")
	}
	if a.usage != "" {
		fmt.Fprintf(&b, " USAGE %s", a.usage)
	}
	b.WriteString(" )")
	return b.String()
}

// Syntax OIDs (RFC 4517 §3.3, RFC 4530).
const (
	synBoolean  = "1.3.6.1.4.1.1466.115.121.1.7"
	synDN       = "1.3.6.1.4.1.1466.115.121.1.12"
	synString   = "1.3.6.1.4.1.1466.115.121.1.15"
	synTime     = "1.3.6.1.4.1.1466.115.121.1.24"
	synIA5      = "1.3.6.1.4.1.1466.115.121.1.26"
	synInteger  = "1.3.6.1.4.1.1466.115.121.1.27"
	synNameUID  = "1.3.6.1.4.1.1466.115.121.1.34"
	synOID      = "1.3.6.1.4.1.1466.115.121.1.38"
	synPrint    = "1.3.6.1.4.1.1466.115.121.1.44"
	synPhone    = "1.3.6.1.4.1.1466.115.121.1.50"
	synUUID     = "1.3.6.1.1.16.1"
	synATDesc   = "1.3.6.1.4.1.1466.115.121.1.3"
	synOCDesc   = "1.3.6.1.4.1.1466.115.121.1.37"
	synMRDesc   = "1.3.6.1.4.1.1466.115.121.1.30"
	synMRUDesc  = "1.3.6.1.4.1.1466.115.121.1.31"
	synSynDesc  = "1.3.6.1.4.1.1466.115.121.1.54"
	dirOp       = "directoryOperation"
	dsaOp       = "dSAOperation"
	ciMatch     = "caseIgnoreMatch"
	ciSubstr    = "caseIgnoreSubstringsMatch"
	ciOrdering  = "caseIgnoreOrderingMatch"
	dnMatch     = "distinguishedNameMatch"
	oidMatch    = "objectIdentifierMatch"
	timeMatch   = "generalizedTimeMatch"
	timeOrder   = "generalizedTimeOrderingMatch"
	firstCompMR = "objectIdentifierFirstComponentMatch"
)

func ka(n int) string { return fmt.Sprintf("%s.1.%d", OIDArc, n) }
func kc(n int) string { return fmt.Sprintf("%s.2.%d", OIDArc, n) }

// attributeTypes is the published schema's attribute types: every attribute the
// view emits and its SUP chain, standard ones as RFC 4512/4519/2798/4530/5020 define
// them, and keyward's own under OIDArc.
var attributeTypes = []*attrType{
	{oid: "2.5.4.0", names: []string{"objectClass"}, equality: oidMatch, syntax: synOID, match: matchOID},
	{oid: "2.5.21.9", names: []string{"structuralObjectClass"}, equality: oidMatch, syntax: synOID, single: true, noUserMod: true, usage: dirOp, match: matchOID},
	{oid: "2.5.18.1", names: []string{"createTimestamp"}, equality: timeMatch, ordering: timeOrder, syntax: synTime, single: true, noUserMod: true, usage: dirOp, match: matchTime},
	{oid: "2.5.18.2", names: []string{"modifyTimestamp"}, equality: timeMatch, ordering: timeOrder, syntax: synTime, single: true, noUserMod: true, usage: dirOp, match: matchTime},
	{oid: "2.5.18.3", names: []string{"creatorsName"}, equality: dnMatch, syntax: synDN, single: true, noUserMod: true, usage: dirOp, match: matchDN},
	{oid: "2.5.18.4", names: []string{"modifiersName"}, equality: dnMatch, syntax: synDN, single: true, noUserMod: true, usage: dirOp, match: matchDN},
	{oid: "2.5.18.9", names: []string{"hasSubordinates"}, equality: "booleanMatch", syntax: synBoolean, single: true, noUserMod: true, usage: dirOp, match: matchBoolean},
	{oid: "2.5.18.10", names: []string{"subschemaSubentry"}, equality: dnMatch, syntax: synDN, single: true, noUserMod: true, usage: dirOp, match: matchDN},
	{oid: "1.3.6.1.1.20", names: []string{"entryDN"}, equality: dnMatch, syntax: synDN, single: true, noUserMod: true, usage: dirOp, match: matchDN},
	{oid: "1.3.6.1.1.16.4", names: []string{"entryUUID"}, equality: "UUIDMatch", ordering: "UUIDOrderingMatch", syntax: synUUID, single: true, noUserMod: true, usage: dirOp, match: matchUUID},
	{oid: "1.2.840.113556.1.2.102", names: []string{"memberOf"}, equality: dnMatch, syntax: synDN, noUserMod: true, usage: dsaOp, match: matchDN, desc: "groups the entry is a member of"},
	{oid: "1.3.6.1.4.1.1466.101.120.5", names: []string{"namingContexts"}, equality: dnMatch, syntax: synDN, usage: dsaOp, match: matchDN},
	{oid: "1.3.6.1.4.1.1466.101.120.13", names: []string{"supportedControl"}, syntax: synOID, usage: dsaOp, match: matchOID},
	{oid: "1.3.6.1.4.1.1466.101.120.7", names: []string{"supportedExtension"}, syntax: synOID, usage: dsaOp, match: matchOID},
	{oid: "1.3.6.1.4.1.1466.101.120.15", names: []string{"supportedLDAPVersion"}, syntax: synInteger, usage: dsaOp, match: matchCaseExact},
	{oid: "1.3.6.1.4.1.4203.1.3.5", names: []string{"supportedFeatures"}, equality: oidMatch, syntax: synOID, usage: dsaOp, match: matchOID},
	{oid: "1.3.6.1.4.1.1466.101.120.14", names: []string{"supportedSASLMechanisms"}, syntax: synString, usage: dsaOp, match: matchCaseIgnore},
	{oid: "1.3.6.1.1.4", names: []string{"vendorName"}, equality: "caseExactMatch", syntax: synString, single: true, noUserMod: true, usage: dsaOp, match: matchCaseExact},
	{oid: "1.3.6.1.1.5", names: []string{"vendorVersion"}, equality: "caseExactMatch", syntax: synString, single: true, noUserMod: true, usage: dsaOp, match: matchCaseExact},
	{oid: "2.5.21.4", names: []string{"matchingRules"}, equality: firstCompMR, syntax: synMRDesc, usage: dirOp, match: matchCaseIgnore},
	{oid: "2.5.21.5", names: []string{"attributeTypes"}, equality: firstCompMR, syntax: synATDesc, usage: dirOp, match: matchCaseIgnore},
	{oid: "2.5.21.6", names: []string{"objectClasses"}, equality: firstCompMR, syntax: synOCDesc, usage: dirOp, match: matchCaseIgnore},
	{oid: "2.5.21.8", names: []string{"matchingRuleUse"}, equality: firstCompMR, syntax: synMRUDesc, usage: dirOp, match: matchCaseIgnore},
	{oid: "1.3.6.1.4.1.1466.101.120.16", names: []string{"ldapSyntaxes"}, equality: firstCompMR, syntax: synSynDesc, usage: dirOp, match: matchCaseIgnore},
	{oid: "2.5.4.49", names: []string{"distinguishedName"}, equality: dnMatch, syntax: synDN, match: matchDN},
	{oid: "2.5.4.41", names: []string{"name"}, equality: ciMatch, substr: ciSubstr, syntax: synString + "{32768}"},
	{oid: "2.5.4.3", names: []string{"cn", "commonName"}, sup: "name"},
	{oid: "2.5.4.4", names: []string{"sn", "surname"}, sup: "name"},
	{oid: "2.5.4.42", names: []string{"givenName", "gn"}, sup: "name"},
	{oid: "2.5.4.7", names: []string{"l", "localityName"}, sup: "name"},
	{oid: "2.5.4.10", names: []string{"o", "organizationName"}, sup: "name"},
	{oid: "2.5.4.11", names: []string{"ou", "organizationalUnitName"}, sup: "name"},
	{oid: "2.5.4.12", names: []string{"title"}, sup: "name"},
	{oid: "0.9.2342.19200300.100.1.1", names: []string{"uid", "userid"}, equality: ciMatch, substr: ciSubstr, syntax: synString + "{256}"},
	{oid: "0.9.2342.19200300.100.1.25", names: []string{"dc", "domainComponent"}, equality: "caseIgnoreIA5Match", substr: "caseIgnoreIA5SubstringsMatch", syntax: synIA5, single: true},
	{oid: "0.9.2342.19200300.100.1.3", names: []string{"mail", "rfc822Mailbox"}, equality: "caseIgnoreIA5Match", substr: "caseIgnoreIA5SubstringsMatch", syntax: synIA5 + "{256}"},
	{oid: "2.5.4.13", names: []string{"description"}, equality: ciMatch, substr: ciSubstr, syntax: synString + "{1024}"},
	{oid: "2.5.4.5", names: []string{"serialNumber"}, equality: ciMatch, substr: ciSubstr, syntax: synPrint + "{64}"},
	{oid: "2.5.4.20", names: []string{"telephoneNumber"}, equality: "telephoneNumberMatch", substr: "telephoneNumberSubstringsMatch", syntax: synPhone + "{32}"},
	{oid: "2.5.4.31", names: []string{"member"}, sup: "distinguishedName", match: matchDN},
	{oid: "2.5.4.32", names: []string{"owner"}, sup: "distinguishedName", match: matchDN},
	{oid: "2.5.4.34", names: []string{"seeAlso"}, sup: "distinguishedName", match: matchDN},
	{oid: "2.5.4.50", names: []string{"uniqueMember"}, equality: "uniqueMemberMatch", syntax: synNameUID, match: matchDN},
	{oid: "0.9.2342.19200300.100.1.10", names: []string{"manager"}, equality: dnMatch, syntax: synDN, match: matchDN},
	{oid: "2.16.840.1.113730.3.1.2", names: []string{"departmentNumber"}, equality: ciMatch, substr: ciSubstr, syntax: synString},
	{oid: "2.16.840.1.113730.3.1.241", names: []string{"displayName"}, equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	{oid: "2.16.840.1.113730.3.1.3", names: []string{"employeeNumber"}, equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	{oid: "2.16.840.1.113730.3.1.4", names: []string{"employeeType"}, equality: ciMatch, substr: ciSubstr, syntax: synString},
	{oid: "2.16.840.1.113730.3.1.39", names: []string{"preferredLanguage"}, equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	// keyward's own attributes.
	{oid: ka(1), names: []string{"keywardActive"}, desc: "keyward: FALSE when the identity is deactivated (all physical access revoked)", equality: "booleanMatch", syntax: synBoolean, single: true, match: matchBoolean},
	{oid: ka(2), names: []string{"keywardContractStatus"}, desc: "keyward: contract status", equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	{oid: ka(3), names: []string{"keywardContractEnd"}, desc: "keyward: end of the contract; access ends with it", equality: timeMatch, ordering: timeOrder, syntax: synTime, single: true, match: matchTime},
	{oid: ka(4), names: []string{"keywardLocation"}, desc: "keyward: work location", equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	{oid: ka(5), names: []string{"keywardProject"}, desc: "keyward: project the identity works on", equality: ciMatch, substr: ciSubstr, syntax: synString},
	{oid: ka(6), names: []string{"keywardFunction"}, desc: "keyward: job function policies match on", equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	{oid: ka(7), names: []string{"keywardCriticality"}, desc: "keyward: criticality (low, medium, high, critical)", equality: ciMatch, syntax: synString, single: true},
	{oid: ka(8), names: []string{"keywardOwner"}, desc: "keyward: owner as the estate names them", equality: ciMatch, substr: ciSubstr, syntax: synString, single: true},
	{oid: ka(9), names: []string{"keywardBound"}, desc: "keyward: TRUE when the entitlement is bound to vendor access objects", equality: "booleanMatch", syntax: synBoolean, single: true, match: matchBoolean},
	{oid: ka(10), names: []string{"keywardLockSystem"}, desc: "keyward: lock system name", equality: ciMatch, syntax: synString, single: true},
	{oid: ka(11), names: []string{"keywardVendor"}, desc: "keyward: lock vendor", equality: ciMatch, syntax: synString, single: true},
	{oid: ka(12), names: []string{"keywardVendorLockId"}, desc: "keyward: the vendor id of the lock", equality: ciMatch, syntax: synString, single: true},
	{oid: ka(13), names: []string{"keywardAsset"}, desc: "keyward: protected asset", equality: ciMatch, substr: ciSubstr, syntax: synString},
	{oid: ka(14), names: []string{"keywardOrigin"}, desc: "keyward: who defined the entitlement (estate or an IGA client)", equality: ciMatch, syntax: synString, single: true},
	{oid: ka(15), names: []string{"keywardOnline"}, desc: "keyward: TRUE for an online lock", equality: "booleanMatch", syntax: synBoolean, single: true, match: matchBoolean},
	// The changelog (draft-good-ldap-changelog), with keyward's own OIDs where the
	// draft defines none.
	{oid: "2.16.840.1.113730.3.1.5", names: []string{"changeNumber"}, equality: "integerMatch", ordering: "integerOrderingMatch", syntax: synInteger, single: true, match: matchInteger},
	{oid: "2.16.840.1.113730.3.1.6", names: []string{"targetDN"}, equality: dnMatch, syntax: synDN, single: true, match: matchDN},
	{oid: "2.16.840.1.113730.3.1.7", names: []string{"changeType"}, equality: ciMatch, syntax: synString, single: true},
	{oid: "2.16.840.1.113730.3.1.8", names: []string{"changes"}, syntax: "1.3.6.1.4.1.1466.115.121.1.40", single: true, match: matchNone},
	{oid: "2.16.840.1.113730.3.1.77", names: []string{"changeTime"}, equality: timeMatch, ordering: timeOrder, syntax: synTime, single: true, match: matchTime},
	{oid: "2.16.840.1.113730.3.1.35", names: []string{"changelog"}, equality: dnMatch, syntax: synDN, usage: dsaOp, match: matchDN},
	{oid: ka(16), names: []string{"firstChangeNumber"}, desc: "keyward: the oldest changeNumber kept", equality: "integerMatch", syntax: synInteger, single: true, noUserMod: true, usage: dsaOp, match: matchInteger},
	{oid: ka(17), names: []string{"lastChangeNumber"}, desc: "keyward: the newest changeNumber", equality: "integerMatch", syntax: synInteger, single: true, noUserMod: true, usage: dsaOp, match: matchInteger},
	{oid: ka(18), names: []string{"targetEntryUUID"}, desc: "keyward: entryUUID of the changed entry", equality: "UUIDMatch", syntax: synUUID, single: true, match: matchUUID},
}

type objectClass struct {
	oid, name, sup, kind, desc string
	must, may                  []string
}

func (o *objectClass) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "( %s NAME '%s'", o.oid, o.name)
	if o.desc != "" {
		fmt.Fprintf(&b, " DESC '%s'", o.desc)
	}
	if o.sup != "" {
		fmt.Fprintf(&b, " SUP %s", o.sup)
	}
	fmt.Fprintf(&b, " %s", o.kind)
	for _, kv := range []struct {
		k string
		v []string
	}{{"MUST", o.must}, {"MAY", o.may}} {
		switch len(kv.v) {
		case 0:
		case 1:
			fmt.Fprintf(&b, " %s %s", kv.k, kv.v[0])
		default:
			fmt.Fprintf(&b, " %s ( %s )", kv.k, strings.Join(kv.v, " $ "))
		}
	}
	b.WriteString(" )")
	return b.String()
}

var objectClasses = []*objectClass{
	{oid: "2.5.6.0", name: "top", kind: "ABSTRACT", must: []string{"objectClass"}},
	{oid: "1.3.6.1.4.1.1466.101.120.111", name: "extensibleObject", sup: "top", kind: "AUXILIARY"},
	{oid: "2.5.17.0", name: "subentry", sup: "top", kind: "STRUCTURAL", must: []string{"cn"}},
	{oid: "2.5.20.1", name: "subschema", kind: "AUXILIARY", may: []string{"objectClasses", "attributeTypes", "matchingRules", "matchingRuleUse"}},
	{oid: "0.9.2342.19200300.100.4.13", name: "domain", sup: "top", kind: "STRUCTURAL", must: []string{"dc"}, may: []string{"o", "description", "seeAlso", "l"}},
	{oid: "2.5.6.4", name: "organization", sup: "top", kind: "STRUCTURAL", must: []string{"o"}, may: []string{"seeAlso", "telephoneNumber", "l", "description"}},
	{oid: "2.5.6.5", name: "organizationalUnit", sup: "top", kind: "STRUCTURAL", must: []string{"ou"}, may: []string{"seeAlso", "telephoneNumber", "l", "description"}},
	{oid: "2.5.6.6", name: "person", sup: "top", kind: "STRUCTURAL", must: []string{"sn", "cn"}, may: []string{"telephoneNumber", "seeAlso", "description"}},
	{oid: "2.5.6.7", name: "organizationalPerson", sup: "person", kind: "STRUCTURAL", may: []string{"title", "telephoneNumber", "ou", "l"}},
	{oid: "2.16.840.1.113730.3.2.2", name: "inetOrgPerson", sup: "organizationalPerson", kind: "STRUCTURAL", may: []string{"departmentNumber", "displayName", "employeeNumber", "employeeType", "givenName", "mail", "manager", "o", "uid", "preferredLanguage"}},
	{oid: "2.5.6.9", name: "groupOfNames", sup: "top", kind: "STRUCTURAL", must: []string{"member", "cn"}, may: []string{"seeAlso", "owner", "ou", "o", "description"}},
	{oid: "2.5.6.17", name: "groupOfUniqueNames", sup: "top", kind: "STRUCTURAL", must: []string{"uniqueMember", "cn"}, may: []string{"seeAlso", "owner", "ou", "o", "description"}},
	{oid: "2.5.6.14", name: "device", sup: "top", kind: "STRUCTURAL", must: []string{"cn"}, may: []string{"serialNumber", "seeAlso", "owner", "ou", "o", "l", "description"}},
	{oid: kc(1), name: "keywardPerson", sup: "top", kind: "AUXILIARY", desc: "keyward: identity attributes access policies use",
		may: []string{"keywardActive", "keywardContractStatus", "keywardContractEnd", "keywardLocation", "keywardProject", "keywardFunction"}},
	{oid: kc(2), name: "keywardEntitlement", sup: "top", kind: "AUXILIARY", desc: "keyward: a reviewable unit of physical access",
		may: []string{"keywardCriticality", "keywardOwner", "keywardBound", "keywardOrigin", "keywardAsset"}},
	{oid: "2.16.840.1.113730.3.2.1", name: "changeLogEntry", sup: "top", kind: "STRUCTURAL", must: []string{"changeNumber", "targetDN", "changeType"}, may: []string{"changes", "changeTime"}},
	{oid: kc(4), name: "keywardChange", sup: "top", kind: "AUXILIARY", desc: "keyward: what a changelog entry changed", may: []string{"targetEntryUUID"}},
	{oid: kc(3), name: "keywardLock", sup: "top", kind: "AUXILIARY", desc: "keyward: a lock (cylinder, door, padlock) in a lock system",
		may: []string{"keywardLockSystem", "keywardVendor", "keywardVendorLockId", "keywardAsset", "keywardCriticality", "keywardOwner", "keywardOnline"}},
}

var ldapSyntaxes = []string{
	"( 1.3.6.1.4.1.1466.115.121.1.3 DESC 'Attribute Type Description' )",
	"( 1.3.6.1.4.1.1466.115.121.1.7 DESC 'Boolean' )",
	"( 1.3.6.1.4.1.1466.115.121.1.12 DESC 'Distinguished Name' )",
	"( 1.3.6.1.4.1.1466.115.121.1.15 DESC 'Directory String' )",
	"( 1.3.6.1.4.1.1466.115.121.1.24 DESC 'Generalized Time' )",
	"( 1.3.6.1.4.1.1466.115.121.1.26 DESC 'IA5 String' )",
	"( 1.3.6.1.4.1.1466.115.121.1.27 DESC 'Integer' )",
	"( 1.3.6.1.4.1.1466.115.121.1.30 DESC 'Matching Rule Description' )",
	"( 1.3.6.1.4.1.1466.115.121.1.31 DESC 'Matching Rule Use Description' )",
	"( 1.3.6.1.4.1.1466.115.121.1.34 DESC 'Name And Optional UID' )",
	"( 1.3.6.1.4.1.1466.115.121.1.37 DESC 'Object Class Description' )",
	"( 1.3.6.1.4.1.1466.115.121.1.38 DESC 'OID' )",
	"( 1.3.6.1.4.1.1466.115.121.1.40 DESC 'Octet String' )",
	"( 1.3.6.1.4.1.1466.115.121.1.44 DESC 'Printable String' )",
	"( 1.3.6.1.4.1.1466.115.121.1.50 DESC 'Telephone Number' )",
	"( 1.3.6.1.4.1.1466.115.121.1.54 DESC 'LDAP Syntax Description' )",
	"( 1.3.6.1.1.16.1 DESC 'UUID' )",
}

var matchingRules = []string{
	"( 2.5.13.0 NAME 'objectIdentifierMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
	"( 2.5.13.1 NAME 'distinguishedNameMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
	"( 2.5.13.2 NAME 'caseIgnoreMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
	"( 2.5.13.3 NAME 'caseIgnoreOrderingMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
	"( 2.5.13.4 NAME 'caseIgnoreSubstringsMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.58 )",
	"( 2.5.13.5 NAME 'caseExactMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
	"( 2.5.13.13 NAME 'booleanMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 )",
	"( 2.5.13.14 NAME 'integerMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 )",
	"( 2.5.13.15 NAME 'integerOrderingMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 )",
	"( 2.5.13.20 NAME 'telephoneNumberMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
	"( 2.5.13.21 NAME 'telephoneNumberSubstringsMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.58 )",
	"( 2.5.13.23 NAME 'uniqueMemberMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.34 )",
	"( 2.5.13.27 NAME 'generalizedTimeMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
	"( 2.5.13.28 NAME 'generalizedTimeOrderingMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
	"( 2.5.13.30 NAME 'objectIdentifierFirstComponentMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
	"( 1.3.6.1.4.1.1466.109.114.2 NAME 'caseIgnoreIA5Match' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
	"( 1.3.6.1.4.1.1466.109.114.3 NAME 'caseIgnoreIA5SubstringsMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.58 )",
	"( 1.3.6.1.1.16.2 NAME 'UUIDMatch' SYNTAX 1.3.6.1.1.16.1 )",
	"( 1.3.6.1.1.16.3 NAME 'UUIDOrderingMatch' SYNTAX 1.3.6.1.1.16.1 )",
}

// schemaIndex maps every lower-cased name and OID to its attribute type, with SUP
// inherited (equality, syntax, match kind).
var schemaIndex = buildSchemaIndex()

func buildSchemaIndex() map[string]*attrType {
	idx := map[string]*attrType{}
	if len(attributeTypes) > maxAttrTypes {
		panic("ldap schema: raise maxAttrTypes")
	}
	for i, a := range attributeTypes {
		a.ord = i
		if a.sup != "" {
			p := idx[lower(a.sup)]
			if p == nil {
				panic("ldap schema: unknown SUP " + a.sup)
			}
			if a.match == matchCaseIgnore && p.match != matchCaseIgnore {
				a.match = p.match
			}
		}
		if a.equality == "" && a.sup == "" && a.match == matchCaseIgnore {
			a.match = matchNone
		}
		a.operational = a.usage != ""
		for _, n := range a.names {
			idx[lower(n)] = a
		}
		idx[a.oid] = a
	}
	return idx
}

// lookupAttr finds an attribute type by name or OID, ignoring options (";binary").
func lookupAttr(desc string) *attrType {
	if i := strings.IndexByte(desc, ';'); i >= 0 {
		desc = desc[:i]
	}
	return schemaIndex[lower(desc)]
}

// subschemaValues returns the subschema entry's operational attributes.
func subschemaValues() map[string][]string {
	at := make([]string, len(attributeTypes))
	for i, a := range attributeTypes {
		at[i] = a.String()
	}
	oc := make([]string, len(objectClasses))
	for i, o := range objectClasses {
		oc[i] = o.String()
	}
	return map[string][]string{
		"ldapSyntaxes":   ldapSyntaxes,
		"matchingRules":  matchingRules,
		"attributeTypes": at,
		"objectClasses":  oc,
	}
}
