"""The outage desk's state machines: values are the API's strings; transitions are pure."""
from bcp_service.outages import states
from bcp_service.outages.states import OutageStatus, TaskStatus, TransportStatus


def test_values_are_the_contract_strings():
    assert [s.value for s in OutageStatus] == ["active", "resolved"]
    assert [s.value for s in TransportStatus] == ["proposed", "assigned", "en_route", "arrived", "cancelled"]
    assert [s.value for s in TaskStatus] == ["open", "acknowledged", "done", "cancelled", "reassigned"]   # reassigned: moved to the next team (issue 19)
    assert TransportStatus.EN_ROUTE == "en_route"          # compares equal to the stored string


def test_outage_changes_only_while_active():
    assert states.may_change("active") and states.may_resolve("active")
    assert not states.may_change("resolved") and not states.may_resolve("resolved")


def test_transport_steps_forward_back_from_en_route_and_never_out_of_a_final_state():
    assert states.may_move_transport("proposed", "assigned")
    assert not states.may_move_transport("proposed", "en_route")
    assert states.may_move_transport("assigned", "arrived")
    assert states.may_move_transport("en_route", "assigned")             # the desk's step back
    assert states.may_move_transport("assigned", "assigned")             # the same tap twice
    assert not states.may_move_transport("arrived", "cancelled")
    assert states.may_move_transport("cancelled", "cancelled")
    assert states.transport_is_final("arrived") and not states.transport_is_final("en_route")
    assert states.transport_holds_bed("en_route") and not states.transport_holds_bed("proposed")


def test_task_follows_its_transport_and_acknowledging_only_moves_an_open_task():
    assert states.acknowledged("open") is TaskStatus.ACKNOWLEDGED
    assert states.acknowledged("done") is TaskStatus.DONE
    assert states.task_after_transport("acknowledged", "arrived") is TaskStatus.DONE
    assert states.task_after_transport("open", "cancelled") is TaskStatus.CANCELLED
    assert states.task_after_transport("done", "cancelled") is TaskStatus.DONE
    assert states.task_after_transport("open", "en_route") is TaskStatus.OPEN
