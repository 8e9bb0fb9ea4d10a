use super::*;

const ORG: &str = "kev_open_organization_8";

fn id(s: &str) -> ExternalId {
    ExternalId::parse(Some(s), "t").unwrap()
}

fn approver(kind: SignerKind, recipient: &str, identity: [Option<&str>; 5]) -> Approver {
    let [organization_open_id, organization_name, open_id, name, mobile] = identity.map(|v| v.map(str::to_owned));
    Approver { organization_open_id, organization_name, open_id, name, mobile, ..Approver::pending(recipient, kind) }
}

fn employee() -> Approver {
    approver(
        SignerKind::ChannelEmployee,
        "ENT",
        [Some(ORG), Some("典子谦示例企业"), Some("kev_8"), Some("王五"), Some("13800000008")],
    )
}

fn person() -> Approver {
    approver(SignerKind::Person, "IND", [None, None, None, Some("张三"), Some("18888888888")])
}

fn saas() -> Approver {
    approver(
        SignerKind::SaasEmployee,
        "ENT",
        [None, Some("腾讯电子签测试企业"), None, Some("郑十一"), Some("13600000000")],
    )
}

fn flow(approvers: Vec<Approver>) -> Flow {
    Flow::live(approvers)
}

fn find(f: SignerFields, flows: &[Flow]) -> Result<SignerKey, ApiError> {
    SignerQuery::approver(&f, "FlowApproverInfo", &id(ORG))?.find(flows, "FlowApproverInfo").map(|(k, _)| k)
}

#[test]
fn a_token_is_43_url_safe_characters_and_parses_back() {
    let t = LinkToken::generate();
    let s = t.as_str();
    assert_eq!(s.len(), LinkToken::LEN);
    assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s}");
    assert_eq!(LinkToken::parse(&s), Some(t.clone()));
    assert_ne!(LinkToken::generate(), t);
}

#[test]
fn anything_but_a_canonical_token_is_refused() {
    let s = LinkToken::generate().as_str();
    for bad in [
        "".to_owned(),
        s[..42].to_owned(),
        format!("{s}A"),
        format!("{}=", &s[..42]),
        format!("{}+", &s[..42]),
        format!("{}/", &s[..42]),
        format!("{}é", &s[..41]),
    ] {
        assert_eq!(LinkToken::parse(&bad), None, "{bad}");
    }
    // 43 characters hold 258 bits: the two spare ones must be zero, so a token has one spelling.
    let zeros = "A".repeat(43);
    assert!(LinkToken::parse(&zeros).is_some());
    assert_eq!(LinkToken::parse(&format!("{}B", &zeros[..42])), None);
    assert!(LinkToken::parse(&format!("{}E", &zeros[..42])).is_some());
}

#[test]
fn the_digest_is_the_hex_sha256_of_the_bytes_and_never_the_token() {
    let t = LinkToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    // SHA-256 of 32 zero bytes.
    assert_eq!(t.digest(), "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
    assert!(!format!("{t:?}").contains("AAAA"));
}

#[test]
fn each_signer_kind_has_its_key_and_auto_and_dynamic_have_none() {
    assert_eq!(
        SignerKey::of(&employee()),
        Some(SignerKey::ChannelEmployee { organization_open_id: ORG.into(), open_id: "kev_8".into() })
    );
    assert_eq!(SignerKey::of(&person()), Some(SignerKey::Person { name: "张三".into(), mobile: "18888888888".into() }));
    assert_eq!(
        SignerKey::of(&saas()),
        Some(SignerKey::SaasEmployee {
            organization_name: "腾讯电子签测试企业".into(),
            name: "郑十一".into(),
            mobile: "13600000000".into()
        })
    );
    let auto = approver(SignerKind::AutoSign, "ENT", [Some(ORG), Some("典子谦示例企业"), None, None, None]);
    let dynamic = approver(SignerKind::DynamicOrganization, "ENT", [Some(ORG), None, None, None, None]);
    assert_eq!(SignerKey::of(&auto), None);
    assert_eq!(SignerKey::of(&dynamic), None);
    assert_eq!(SignerKey::of(&approver(SignerKind::DynamicPerson, "IND", [None; 5])), None);
}

#[test]
fn a_signer_has_the_same_key_in_every_contract() {
    let (a, b) = (employee(), employee());
    assert_ne!(a.sign_id, b.sign_id);
    let key = SignerKey::of(&a).unwrap();
    assert!(key.matches(&b));
    assert!(!key.matches(&person()));
    // An employee's key is who they are in their organisation, not the name on file.
    let mut renamed = employee();
    renamed.name = Some("王五五".into());
    assert!(key.matches(&renamed));
}

#[test]
fn a_key_is_stored_as_a_string_that_decodes_to_itself() {
    let keys = [
        SignerKey::of(&employee()).unwrap(),
        SignerKey::of(&person()).unwrap(),
        SignerKey::of(&saas()).unwrap(),
        SignerKey::Person { name: "a/1:b".into(), mobile: "13800000000".into() },
        SignerKey::Recipient {
            places: vec![("F1".into(), "R1".into()), ("F2".into(), "R2".into())],
            preset: Preset::default(),
        },
        SignerKey::Recipient {
            places: vec![("F1".into(), "R1".into())],
            preset: Preset { mobile: Some("18888888888".into()), ..Preset::default() },
        },
    ];
    for k in keys {
        let s = k.encode();
        assert_eq!(SignerKey::decode(&s), Some(k), "{s}");
    }
    assert_eq!(SignerKey::of(&person()).unwrap().encode(), "PERSON/6:张三/11:18888888888");
    for bad in [
        "",
        "PERSON",
        "PERSON/6:张三",
        "PERSON/6:张三/11:18888888888/1:x",
        "PERSON/+6:张三/11:18888888888",
        "NOBODY/1:a/1:b",
        "PERSON/7:张三/11:18888888888",
        "RECIPIENT/0:/0:/0:/0:",
        "RECIPIENT/0:/0:/0:/0:/2:F1",
    ] {
        assert_eq!(SignerKey::decode(bad), None, "{bad}");
    }
}

#[test]
fn a_person_is_named_by_type_name_and_mobile() {
    let flows = [flow(vec![employee(), person()])];
    let f = SignerFields {
        approver_type: Some("PERSON"),
        name: Some("张三"),
        mobile: Some("18888888888"),
        ..Default::default()
    };
    assert_eq!(find(f, &flows).unwrap(), SignerKey::of(&person()).unwrap());
    let wrong = SignerFields { mobile: Some("18888888889"), ..f };
    let e = find(wrong, &flows).unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound_FlowApprover);
    assert!(e.message.contains("FlowApproverInfo.Mobile 18888888889"), "{}", e.message);
    let no_mobile = SignerFields { mobile: None, ..f };
    assert_eq!(find(no_mobile, &flows).unwrap_err().message, "The parameter `FlowApproverInfo.Mobile` is required.");
}

#[test]
fn an_employee_of_the_application_is_named_by_open_id_in_the_agents_organization_by_default() {
    let flows = [flow(vec![employee(), person()])];
    let f = SignerFields { approver_type: Some("ORGANIZATION"), open_id: Some("kev_8"), ..Default::default() };
    assert_eq!(find(f, &flows).unwrap(), SignerKey::of(&employee()).unwrap());
    let elsewhere = SignerFields { organization_open_id: Some("kev_open_organization_9"), ..f };
    assert_eq!(find(elsewhere, &flows).unwrap_err().code, Code::ResourceNotFound_FlowApprover);
    let by_name = SignerFields {
        approver_type: Some("ORGANIZATION"),
        name: Some("王五"),
        mobile: Some("13800000008"),
        ..Default::default()
    };
    assert_eq!(find(by_name, &flows).unwrap(), SignerKey::of(&employee()).unwrap());
}

#[test]
fn an_open_id_outweighs_the_name_and_a_person_has_no_organization() {
    let flows = [flow(vec![employee(), person()])];
    let stale = SignerFields {
        approver_type: Some("ORGANIZATION"),
        open_id: Some("kev_8"),
        name: Some("王五旧名"),
        mobile: Some("13900000000"),
        organization_name: Some("旧企业名"),
        ..Default::default()
    };
    assert_eq!(find(stale, &flows).unwrap(), SignerKey::of(&employee()).unwrap());
    let person_with_org = SignerFields {
        approver_type: Some("PERSON"),
        name: Some("张三"),
        mobile: Some("18888888888"),
        organization_name: Some("某企业"),
        organization_open_id: Some(ORG),
        open_id: Some("kev_8"),
        ..Default::default()
    };
    assert_eq!(find(person_with_org, &flows).unwrap(), SignerKey::of(&person()).unwrap());
}

#[test]
fn a_saas_employee_is_named_with_the_organization_name() {
    let flows = [flow(vec![saas(), person()])];
    let f = SignerFields {
        approver_type: Some("ORGANIZATION"),
        not_channel_organization: true,
        organization_name: Some("腾讯电子签测试企业"),
        name: Some("郑十一"),
        mobile: Some("13600000000"),
        ..Default::default()
    };
    assert_eq!(find(f, &flows).unwrap(), SignerKey::of(&saas()).unwrap());
    let other = SignerFields { organization_name: Some("别的企业"), ..f };
    assert_eq!(find(other, &flows).unwrap_err().code, Code::ResourceNotFound_FlowApprover);
    let unnamed = SignerFields { organization_name: None, ..f };
    assert_eq!(
        find(unnamed, &flows).unwrap_err().message,
        "The parameter `FlowApproverInfo.OrganizationName` is required."
    );
}

#[test]
fn a_sign_id_or_recipient_id_names_the_signer_alone() {
    let p = person();
    let sign_id = p.sign_id.as_str().to_owned();
    let flows = [flow(vec![employee(), p]), flow(vec![employee(), person()])];
    let by_sign_id = SignerFields { sign_id: Some(&sign_id), ..Default::default() };
    assert_eq!(find(by_sign_id, &flows).unwrap(), SignerKey::of(&person()).unwrap());
    let by_recipient = SignerFields { recipient_id: Some("ENT"), ..Default::default() };
    assert_eq!(find(by_recipient, &flows).unwrap(), SignerKey::of(&employee()).unwrap());
    let contradicted = SignerFields { approver_type: Some("ORGANIZATION"), ..by_sign_id };
    assert_eq!(find(contradicted, &flows).unwrap_err().code, Code::ResourceNotFound_FlowApprover);
}

#[test]
fn a_description_that_fits_two_people_is_refused() {
    let mut other = person();
    other.mobile = Some("13900000000".into());
    let flows = [flow(vec![employee(), person()]), flow(vec![employee(), other])];
    let e = find(SignerFields { recipient_id: Some("IND"), ..Default::default() }, &flows).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter);
    assert!(e.message.contains("FlowApproverInfo.RecipientId IND"), "{}", e.message);
}

#[test]
fn auto_signers_and_unfilled_dynamic_signers_get_no_link() {
    let auto = approver(SignerKind::AutoSign, "ENT", [Some(ORG), Some("典子谦示例企业"), None, None, None]);
    let dynamic = approver(SignerKind::DynamicPerson, "IND", [None; 5]);
    let flows = [flow(vec![auto, dynamic])];
    for recipient in ["ENT", "IND"] {
        let e = find(SignerFields { recipient_id: Some(recipient), ..Default::default() }, &flows).unwrap_err();
        assert_eq!(e.code, Code::OperationDenied, "{recipient}");
    }
    let e = find(SignerFields { approver_type: Some("ENTERPRISESERVER"), ..Default::default() }, &flows).unwrap_err();
    assert_eq!(e.code, Code::InvalidParameter_ApproverType);
}

#[test]
fn a_request_naming_nobody_is_missing_a_parameter() {
    let e = find(SignerFields { approver_type: Some("ORGANIZATION"), ..Default::default() }, &[]).unwrap_err();
    assert_eq!(e.code, Code::MissingParameter);
    assert!(e.message.contains("`FlowApproverInfo.OpenId`"), "{}", e.message);
    let bad = SignerFields {
        approver_type: Some("PERSON"),
        name: Some("张三"),
        mobile: Some("+8618888888888"),
        ..Default::default()
    };
    assert_eq!(find(bad, &[]).unwrap_err().code, Code::InvalidParameter_Mobile);
}

#[test]
fn generate_types_need_their_fields_and_select_their_kind() {
    let flows = [flow(vec![employee(), person()]), flow(vec![saas(), person()])];
    let count = |q: SignerQuery| flows.iter().flat_map(|f| &f.approvers).filter(|a| q.matches(a)).count();
    let none = SignerFields::default();
    assert_eq!(count(SignerQuery::generate(GenerateType::All, &none).unwrap()), 4);
    let channel = SignerFields { organization_open_id: Some(ORG), ..none };
    assert_eq!(count(SignerQuery::generate(GenerateType::Channel, &channel).unwrap()), 1);
    let saas_org = SignerFields { organization_name: Some("腾讯电子签测试企业"), ..none };
    assert_eq!(count(SignerQuery::generate(GenerateType::NotChannel, &saas_org).unwrap()), 1);
    let people = SignerFields { name: Some("张三"), mobile: Some("18888888888"), ..none };
    assert_eq!(count(SignerQuery::generate(GenerateType::Person, &people).unwrap()), 2);
    for (kind, field) in [
        (GenerateType::Channel, "OrganizationOpenId"),
        (GenerateType::NotChannel, "OrganizationName"),
        (GenerateType::Person, "Name"),
    ] {
        let e = SignerQuery::generate(kind, &none).unwrap_err();
        assert_eq!(e.code, Code::MissingParameter);
        assert!(e.message.contains(&format!("`{field}`")), "{}", e.message);
    }
}

#[test]
fn follower_links_are_not_supported_yet() {
    assert_eq!(GenerateType::parse(Some("RECIPIENT"), "GenerateType").unwrap(), GenerateType::Recipient);
    for t in ["FOLLOWER", "all"] {
        assert_eq!(GenerateType::parse(Some(t), "GenerateType").unwrap_err().code, Code::InvalidParameter_GenerateType);
    }
    assert_eq!(GenerateType::parse(None, "GenerateType").unwrap(), GenerateType::All);
}

#[test]
fn a_link_lives_30_minutes_by_default_and_30_minutes_to_90_days_when_asked() {
    let life = |v| lifetime(v, "ExpiredOn", Code::InvalidParameterValue);
    assert_eq!(life(None).unwrap(), 1800);
    assert_eq!(life(Some(0)).unwrap(), 1800);
    assert_eq!(life(Some(7_776_000)).unwrap(), 7_776_000);
    for bad in [1799, 7_776_001, -5] {
        let e = life(Some(bad)).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameterValue);
        assert!(e.message.contains("`ExpiredOn`"));
    }
}
