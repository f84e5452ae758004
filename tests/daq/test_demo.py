import io

import pytest
from django.core.management import call_command

from beamtime.daq.models import DataSource, ECCServer, Experiment


@pytest.mark.django_db
def test_the_demo_experiment_has_ten_cobos_and_a_mutant_each_with_a_configuration(alice):
    call_command("load_demo", stdout=io.StringIO())
    experiment = Experiment.objects.get(name="demo")
    assert experiment.is_active and alice in experiment.members.all()
    assert alice in experiment.coordinators.all()
    assert sorted(DataSource.objects.values_list("name", flat=True)) == sorted(
        [f"CoBo[{i}]" for i in range(10)] + ["MuTAnT"]
    )
    assert len({s.port for s in ECCServer.objects.all()}) == 11
    assert str(ECCServer.objects.get(name="ecc_mutant").selected_config) == "mutant/experiment/beam"
    call_command("load_demo", stdout=io.StringIO())
    assert Experiment.objects.count() == 1
