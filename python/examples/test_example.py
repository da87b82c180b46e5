"""A test file using the localplane pytest plugin: each test works in an account of its own."""


def test_register_and_discover(localplane, localplane_account):
    sd = localplane.client("servicediscovery", account=localplane_account)
    op = sd.create_http_namespace(Name="shop")["OperationId"]
    # The instant timing profile (the plugin's default) finishes operations before answering.
    assert sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS"
    ns_id = sd.list_namespaces()["Namespaces"][0]["Id"]
    service_id = sd.create_service(Name="cart", NamespaceId=ns_id)["Service"]["Id"]
    sd.register_instance(ServiceId=service_id, InstanceId="cart-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.5"})
    found = sd.discover_instances(NamespaceName="shop", ServiceName="cart")["Instances"]
    assert [i["InstanceId"] for i in found] == ["cart-1"]


def test_accounts_are_isolated(localplane, localplane_account):
    sd = localplane.client("servicediscovery", account=localplane_account)
    assert sd.list_namespaces()["Namespaces"] == []  # the other test's namespace is in its own account
    assert localplane.client("sts", account=localplane_account).get_caller_identity()["Account"] == localplane_account


def test_msk_connect_and_reset(localplane):
    kc = localplane.client("kafkaconnect")
    kc.create_worker_configuration(name="workers", propertiesFileContent="a2V5LmNvbnZlcnRlcj1q")
    assert [w["name"] for w in kc.list_worker_configurations()["workerConfigurations"]] == ["workers"]
    localplane.reset()
    assert kc.list_worker_configurations()["workerConfigurations"] == []
