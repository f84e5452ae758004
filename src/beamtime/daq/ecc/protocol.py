"""The ECC server's state machine and the XML it exchanges inside SOAP strings."""

from dataclasses import dataclass
from enum import IntEnum

from lxml import etree

NAMESPACE = "urn:ecc"
# Text from an ECC server is parsed without entities, DTDs or network access.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class State(IntEnum):
    IDLE = 1
    DESCRIBED = 2
    PREPARED = 3
    READY = 4
    RUNNING = 5


# operation → (from state, to state)
TRANSITIONS = {
    "Describe": (State.IDLE, State.DESCRIBED),
    "Prepare": (State.DESCRIBED, State.PREPARED),
    "Configure": (State.PREPARED, State.READY),
    "Start": (State.READY, State.RUNNING),
    "Stop": (State.RUNNING, State.READY),
    "Breakup": (State.READY, State.PREPARED),
}
# Undo steps back from Prepared or Described.
UNDO = {State.PREPARED: State.DESCRIBED, State.DESCRIBED: State.IDLE}


def operation_between(current: State, target: State) -> str:
    """The one operation that moves an ECC server from ``current`` one step to ``target``."""
    for name, (source, dest) in TRANSITIONS.items():
        if (source, dest) == (current, target):
            return name
    if UNDO.get(current) == target:
        return "Undo"
    raise ValueError(f"no single transition from {current.name} to {target.name}")


class EccProtocolError(ValueError):
    """XML from or for an ECC server that does not have the expected form."""


@dataclass(frozen=True, order=True)
class ConfigId:
    """A set of configuration files: describe-NAME.xcfg, prepare-NAME.xcfg, configure-NAME.xcfg."""

    describe: str
    prepare: str
    configure: str

    def __str__(self):
        return f"{self.describe}/{self.prepare}/{self.configure}"

    def to_xml(self) -> str:
        root = etree.Element("ConfigId")
        for step in ("describe", "prepare", "configure"):
            sub = etree.SubElement(root, "SubConfigId", type=step)
            sub.text = getattr(self, step)
        return etree.tostring(root, encoding="unicode")

    @classmethod
    def from_element(cls, node) -> "ConfigId":
        steps = {}
        for sub in node.iter("SubConfigId"):
            step = sub.get("type")
            if step not in ("describe", "prepare", "configure"):
                raise EccProtocolError(f"SubConfigId with unknown type {step!r}")
            if step in steps:
                raise EccProtocolError(f"ConfigId with two {step} SubConfigIds")
            steps[step] = (sub.text or "").strip()
        missing = {"describe", "prepare", "configure"} - steps.keys()
        if missing:
            raise EccProtocolError(f"ConfigId without a {sorted(missing)[0]} SubConfigId")
        return cls(**steps)


def parse_xml(text: str, what: str):
    try:
        return etree.fromstring(text.encode(), PARSER)
    except etree.XMLSyntaxError as exc:
        raise EccProtocolError(f"{what} is not well-formed XML: {exc}") from None


def parse_config_id(text: str) -> ConfigId:
    root = parse_xml(text, "configID")
    if root.tag != "ConfigId":
        raise EccProtocolError(f"configID must be a <ConfigId> element, not <{root.tag}>")
    return ConfigId.from_element(root)


def parse_config_list(text: str) -> list[ConfigId]:
    """The ConfigIds in a GetConfigIDs answer (a list of <ConfigId> elements)."""
    root = parse_xml(text, "the list of configurations")
    nodes = [root] if root.tag == "ConfigId" else list(root.iter("ConfigId"))
    return sorted({ConfigId.from_element(node) for node in nodes})


def config_list_xml(configs: list[ConfigId]) -> str:
    root = etree.Element("ConfigIdList")
    for config in configs:
        root.append(etree.fromstring(config.to_xml()))
    return etree.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class DataLink:
    """Where one data source (a CoBo or MuTAnT) sends its data: a data router."""

    sender: str
    router: str
    ip_address: str
    port: int
    router_type: str  # FDT, ICE, TCP or ZBUF


def data_link_set_xml(links: list[DataLink]) -> str:
    root = etree.Element("DataLinkSet")
    for link in links:
        node = etree.SubElement(root, "DataLink")
        etree.SubElement(node, "DataSender", id=link.sender)
        etree.SubElement(
            node,
            "DataRouter",
            name=link.router,
            ipAddress=link.ip_address,
            port=str(link.port),
            type=link.router_type,
        )
    return etree.tostring(root, encoding="unicode")


def parse_data_link_set(text: str) -> list[DataLink]:
    root = parse_xml(text, "table")
    if root.tag != "DataLinkSet":
        raise EccProtocolError(f"table must be a <DataLinkSet> element, not <{root.tag}>")
    links = []
    for node in root.iter("DataLink"):
        sender, router = node.find("DataSender"), node.find("DataRouter")
        if sender is None or router is None:
            raise EccProtocolError("a DataLink needs a DataSender and a DataRouter")
        try:
            port = int(router.get("port", ""))
        except ValueError:
            raise EccProtocolError(
                f"DataRouter port {router.get('port')!r} is not a number"
            ) from None
        links.append(
            DataLink(
                sender.get("id", ""),
                router.get("name", ""),
                router.get("ipAddress", ""),
                port,
                router.get("type", ""),
            )
        )
    return links
