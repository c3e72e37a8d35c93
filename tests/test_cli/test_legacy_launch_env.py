from ssd_npu.cli import map_legacy_dist_env


def test_old_product_launch_variables_are_mapped():
    env = dict(RANK='3', RANK_SIZE='8', NPUID='3')
    map_legacy_dist_env(env)
    assert env == dict(RANK='3', RANK_SIZE='8', NPUID='3', WORLD_SIZE='8', LOCAL_RANK='3',
                       MASTER_ADDR='127.0.0.1', MASTER_PORT='29500')


def test_torchrun_variables_win_over_old_ones():
    env = dict(RANK='1', WORLD_SIZE='2', LOCAL_RANK='0', RANK_SIZE='8', NPUID='5', MASTER_ADDR='10.0.0.1',
               MASTER_PORT='1234')
    map_legacy_dist_env(env)
    assert (env['WORLD_SIZE'], env['LOCAL_RANK'], env['MASTER_ADDR'], env['MASTER_PORT']) == (
        '2', '0', '10.0.0.1', '1234')


def test_local_rank_falls_back_to_rank_and_nothing_is_set_outside_a_launch():
    env = dict(RANK='2', RANK_SIZE='4')
    map_legacy_dist_env(env)
    assert env['LOCAL_RANK'] == '2'
    empty: dict = {}
    map_legacy_dist_env(empty)
    assert empty == {}
