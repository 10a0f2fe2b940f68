package audit

import "github.com/estab/estab/result"

// cisRefs are the CIS benchmark recommendations a check verifies, each
// read from a public copy of its text (Tenable's audit item pages). Only
// recommendations whose text was read are here: no id from memory.
var cisRefs = map[string]map[string][]result.CISRef{
	CheckStatefulRule: {
		"ipv4": {
			{Benchmark: "CIS Aliyun Linux 2 Benchmark", Version: "v1.0.0", Recommendation: "3.5.1.3",
				Title:  "Ensure outbound and established connections are configured",
				Covers: "the INPUT accept of established connections; not the OUTPUT rules",
				Source: "https://tenable.com/audits/items/CIS_Aliyun_Linux_2_L1_v1.0.0.audit:0c224ac6264c135a6f9523ad7065c289"},
			{Benchmark: "CIS Bottlerocket Benchmark", Version: "v1.0.0", Recommendation: "3.4.1.3",
				Title:  "Ensure IPv4 outbound and established connections are configured",
				Covers: "the INPUT accept of established connections; not the OUTPUT rules",
				Source: "https://tenable.com/audits/items/CIS_Bottlerocket_v1.0.0_L2.audit:7672e37ef6c0fd5236d26670a90e3ce7"},
		},
		"ipv6": {
			{Benchmark: "CIS Aliyun Linux 2 Benchmark", Version: "v1.0.0", Recommendation: "3.5.2.3",
				Title:  "Ensure IPv6 outbound and established connections are configured",
				Covers: "the INPUT accept of established connections; not the OUTPUT rules",
				Source: "https://tenable.com/audits/items/CIS_Aliyun_Linux_2_L1_v1.0.0.audit:f42861d0fe705fc16d5268c51ea482c0"},
			{Benchmark: "CIS Bottlerocket Benchmark", Version: "v1.0.0", Recommendation: "3.4.2.3",
				Title:  "Ensure IPv6 outbound and established connections are configured",
				Covers: "the INPUT accept of established connections; not the OUTPUT rules",
				Source: "https://tenable.com/audits/items/CIS_Bottlerocket_v1.0.0_L2.audit:41ffb06757fc007d63fa88eed5f5da47"},
		},
	},
	CheckLoopback: {
		"ipv4": {
			{Benchmark: "CIS Red Hat Enterprise Linux 6 Benchmark", Version: "v3.0.0", Recommendation: "3.6.2.2",
				Title:  "Ensure IPv4 loopback traffic is configured",
				Covers: "INPUT -i lo -j ACCEPT; not the OUTPUT rule nor the 127.0.0.0/8 drop",
				Source: "https://www.tenable.com/audits/items/CIS_Red_Hat_EL6_v3.0.0_Server_L1.audit:6090c6c9ce2db3cfb207adc29a785b69"},
			{Benchmark: "CIS Amazon Linux Benchmark", Version: "v2.1.0", Recommendation: "3.6.3",
				Title:  "Ensure loopback traffic is configured",
				Covers: "INPUT -i lo -j ACCEPT; not the OUTPUT rule nor the 127.0.0.0/8 drop",
				Source: "https://tenable.com/audits/items/CIS_Amazon_Linux_v2.1.0_L1.audit:57e98295f171f48ea71fd3a5e365215d"},
		},
	},
}

// withCIS attaches the recommendations a check verifies.
func withCIS(cs []result.AuditCheck) []result.AuditCheck {
	for i := range cs {
		cs[i].CIS = cisRefs[cs[i].ID][cs[i].Family]
	}
	return cs
}
